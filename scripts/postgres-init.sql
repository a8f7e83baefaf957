-- supervision_db lives beside the Airflow metadata database in the compose stack.
CREATE DATABASE supervision OWNER airflow;
