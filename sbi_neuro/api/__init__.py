"""The library's verbs: ``execute`` a configured run, the public ``simulate`` / ``infer`` / ``fit`` /
``compare`` / ``check`` / ``report`` on objects, the results index's runs, and the demo. The
command line (``sbi_neuro.cli``) calls these and nothing below them."""
