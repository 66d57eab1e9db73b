"""`python -m workers.wait_for_redis`: exit 0 once the configured Redis answers (start-up ordering)."""

from dotenv import load_dotenv

from config import load_config
from proxyapp.queue import wait_for_redis

if __name__ == "__main__":
    load_dotenv()
    wait_for_redis(load_config().REDIS_URL, timeout=60)
