"""newsflow: news ingestion logic.

Plain Python, no Airflow imports, so every stage runs and tests without a scheduler.
"""
