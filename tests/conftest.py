"""Fixtures for the Python test tiers (tests/reference, tests/sessions).

They run against the throwaway cluster that scripts/test.sh starts: PGHOST,
PGPORT and PGUSER come from its environment. Each test module gets a fresh
database with pg_segment installed, dropped afterwards.
"""

import os
import uuid

import psycopg
import pytest


def connect(dbname, **kwargs):
    return psycopg.connect(dbname=dbname, **kwargs)


@pytest.fixture(scope="module")
def dbname():
    """A fresh database with pg_segment created in it, for one test module."""
    name = "t_" + uuid.uuid4().hex[:12]
    with connect("postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.execute(f"ALTER DATABASE \"{name}\" SET timezone = 'UTC'")
    with connect(name, autocommit=True) as c:
        c.execute("CREATE EXTENSION pg_segment")
    yield name
    with connect("postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def conn(dbname):
    """An autocommit connection to the module's database."""
    with connect(dbname, autocommit=True) as c:
        yield c


@pytest.fixture(scope="session")
def repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
