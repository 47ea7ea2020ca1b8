"""Where simulations run and how they are kept: the simulation bank, executors (local processes,
joblib, Dask, Ray), fault isolation of hanging or crashing simulations, and the ``Dispatcher`` that
charges every simulation to one counter."""
