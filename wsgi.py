"""WSGI entry point: `waitress-serve wsgi:app`."""

import sys

from dotenv import load_dotenv

from config import ConfigError
from proxyapp import create_app
from proxyapp.code_systems import preload_code_sets
from proxyapp.logs import configure_logging

load_dotenv()  # a .env file may supply variables; real environment variables win
configure_logging()
try:
    app = create_app()
except ConfigError as error:
    sys.exit(f"proxyapp: configuration error: {error}")
if app.config["STRICT_CODES"]:
    preload_code_sets()  # parsing the ICD-10-CM set takes seconds: pay it at start, not on a request
