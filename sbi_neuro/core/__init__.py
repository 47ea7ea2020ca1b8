"""What every stage of the pipeline shares: the evaluation types (``Task``, ``Evaluator``,
``EvalBatch``), seeds, atomic files, typed-configuration checks, convergence statistics, plotting."""
