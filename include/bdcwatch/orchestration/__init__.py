"""Airflow wiring, the only code that imports Airflow: connections, the DAG decorator, shared tasks, the notifier."""
