"""The database: typed models, migrations, and the repositories over them.

Postgres is the source of truth in production; a SQLite file is the embedded
default. The same code and migrations serve both.
"""
