"""Run machinery: CV ensembles, fitting and checking a run's configuration, saving and loading
run folders without pickle, recipes, and the scikit-learn checks that cannot apply."""
