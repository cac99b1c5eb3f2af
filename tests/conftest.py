"""Fixtures for the Python test tiers (tests/reference, tests/sessions).

They run against the throwaway cluster that scripts/test.sh starts: PGHOST,
PGPORT and PGUSER come from its environment. Each test module gets a fresh
database with pg_segment installed, dropped afterwards.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid

import psycopg
import pytest


def connect(dbname, **kwargs):
    return psycopg.connect(dbname=dbname, **kwargs)


def pg_bin(tool):
    """Path of a PostgreSQL client program of the installation under test."""
    pg_config = os.environ.get("PG_CONFIG", "/usr/lib/postgresql/15/bin/pg_config")
    bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
    path = os.path.join(bindir, tool)
    return path if os.path.exists(path) else shutil.which(tool)


@contextlib.contextmanager
def restored_copy(dbname, *dump_args, custom=False):
    """pg_dump of `dbname` restored into a fresh database, dropped afterwards.

    Yields (restored database name, the plain-format dump text, or None when
    `custom` uses pg_dump -Fc and pg_restore)."""
    restored = "t_" + uuid.uuid4().hex[:12]
    with connect("postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{restored}"')
    try:
        if custom:
            with tempfile.NamedTemporaryFile(suffix=".dump") as f:
                subprocess.run([pg_bin("pg_dump"), "-Fc", "--no-owner", *dump_args, "-f", f.name, "-d", dbname],
                               check=True)
                subprocess.run([pg_bin("pg_restore"), "--no-owner", "--exit-on-error", "-d", restored, f.name],
                               capture_output=True, text=True, check=True)
            text = None
        else:
            text = subprocess.run([pg_bin("pg_dump"), "--no-owner", *dump_args, "-d", dbname],
                                  capture_output=True, text=True, check=True).stdout
            subprocess.run([pg_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", restored],
                           input=text, capture_output=True, text=True, check=True)
        yield restored, text
    finally:
        with connect("postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')


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
