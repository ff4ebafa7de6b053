"""An nginx front proxy with ``limit_req`` for ``retry_storm.py --proxy-rate``.

Runs Debian's nginx as an unprivileged-style child process (prefix and temp paths in a
throw-away directory, no daemon) in front of the stamping service: ``POST /api/v1/stamps``
is limited to ``rate`` requests/s per client address with a small burst, refused with 503
in nginx itself (C, no Python) past that; everything else is passed through.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx

__all__ = ["start_nginx"]

_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  client_max_body_size 11m;
  limit_req_zone $binary_remote_addr zone=stamps:1m rate={rate}r/s;
  limit_req_status 503;
  upstream stamping {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location = /api/v1/stamps {{
      limit_req zone=stamps burst={burst} nodelay;
      proxy_pass http://stamping;
    }}
    location / {{ proxy_pass http://stamping; }}
  }}
}}
"""


def start_nginx(workdir: Path, port: int, upstream: int, rate: int,
                burst: int) -> subprocess.Popen[bytes]:
    """Start nginx on ``port`` in front of ``upstream``; wait until it answers."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is not installed (apt-get install -y nginx-light)")
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "nginx.conf"
    conf.write_text(_CONF.format(dir=workdir, rate=max(1, rate), burst=max(1, burst),
                                 upstream=upstream, port=port))
    proc = subprocess.Popen([nginx, "-p", str(workdir), "-c", str(conf), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("nginx did not start: " + (workdir / "error.log").read_text()[-1000:])
