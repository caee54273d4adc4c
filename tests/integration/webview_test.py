#!/usr/bin/env python3
"""The operator's view in a real browser: Debian's chromium, headless, driven by selenium
through chromedriver, against a running ab-router, ab-node and ab-bmcsim on loopback.

Checks: /v1/cluster follows the access policy (401 without a token, 403 without `read`); the
page asks for a token, then shows the node as fresh; a build's progress (and its ETA, when the
API gives one) updates live; a failure shows its reason, and a hostile reason is shown as text,
never run; a request's detail shows its job chain; the node goes stale once it stops. Saves
screenshots into the build tree and prints their paths.

Usage: webview_test.py --bin-dir BUILD/bin --artifacts BUILD/artifacts
"""

import argparse
import hashlib
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import (NoSuchElementException,
                                        StaleElementReferenceException, WebDriverException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

# A failure reason a hostile BMC sends: run as markup, it would set window.__xss.
HOSTILE = '<img src=x onerror="window.__xss=1"><b>bold</b>'
DEADLINE = time.monotonic() + 100  # the whole test, whatever happens


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def wait_for(what, probe, timeout=20.0, interval=0.2):
    """Calls probe() until it returns a true value (returned), or fails naming `what`."""
    end = min(time.monotonic() + timeout, DEADLINE)
    last = None
    while time.monotonic() < end:
        try:
            last = probe()
        except (StaleElementReferenceException, NoSuchElementException, urllib.error.URLError,
                ConnectionError):
            last = None
        if last:
            return last
        time.sleep(interval)
    raise Failure('timed out waiting for ' + what)


class Processes:
    """The servers the test starts, each stopped (by its own pid) at the end."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.running = {}

    def start(self, name, argv, env=None):
        log = open(os.path.join(self.tmp, name + '.log'), 'w+')
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                             stdin=subprocess.DEVNULL)
        self.running[name] = (p, log)
        pattern = re.compile(r'listening on https?://[^\s:]+:(\d+)')
        def port():
            check(p.poll() is None, name + ' exited early:\n' + self.output(name))
            m = pattern.search(self.output(name))
            return int(m.group(1)) if m else None
        return wait_for(name + ' to listen', port, timeout=20)

    def output(self, name):
        with open(os.path.join(self.tmp, name + '.log')) as f:
            return f.read()

    def kill(self, name):
        p, log = self.running.pop(name)
        p.kill()
        p.wait()
        log.close()

    def stop_all(self):
        for name in list(self.running):
            p, log = self.running.pop(name)
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            log.close()


def hostile_bmc():
    """A Redfish service that answers every resource but its root with an error whose message
    is HOSTILE: the node quotes a Redfish service's own error in the job's reason."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.rstrip('/').endswith('/redfish/v1'):
                return self.answer(200, {'@odata.id': '/redfish/v1/', 'RedfishVersion': '1.8.0',
                                         'Systems': {'@odata.id': '/redfish/v1/Systems'}})
            self.answer(400, {'error': {'code': 'Base.1.0.GeneralError', 'message': HOSTILE}})

        def do_POST(self):
            self.answer(404, {'error': {'code': 'Base.1.0.ResourceMissingAtURI',
                                        'message': 'no sessions'}})

        def do_DELETE(self):
            self.answer(204, {})

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def call(port, method, path, token=None, body=None):
    """One API call: (status, parsed JSON body or None)."""
    req = urllib.request.Request('http://127.0.0.1:%d%s' % (port, path), method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header('Content-Type', 'application/json')
    if token:
        req.add_header('Authorization', 'Bearer ' + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, data = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, data = e.code, e.read()
    try:
        return status, json.loads(data) if data else None
    except ValueError:
        return status, None


def browser(tmp):
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which('chromium') or '/usr/bin/chromium'
    for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                '--window-size=1400,1100', '--user-data-dir=' + os.path.join(tmp, 'chrome'),
                '--no-first-run', '--disable-extensions', '--disable-background-networking'):
        options.add_argument(arg)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    service = Service(shutil.which('chromedriver') or '/usr/bin/chromedriver')
    return webdriver.Chrome(service=service, options=options)


def text_of(driver, css):
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else None


def run(args, tmp, procs):
    admin, viewer, auditor = (secrets.token_urlsafe(24) for _ in range(3))
    digest = lambda t: hashlib.sha256(t.encode()).hexdigest()
    policy = os.path.join(tmp, 'policy.json')
    with open(policy, 'w') as f:
        json.dump({'accounts': {'admin': {'token_sha256': digest(admin), 'roles': ['admin']},
                                'viewer': {'token_sha256': digest(viewer), 'roles': ['viewer']},
                                'auditor': {'token_sha256': digest(auditor),
                                            'roles': ['auditor']}},
                   'roles': {'admin': [{'actions': ['*']}],
                             'viewer': [{'actions': ['read']}],
                             'auditor': [{'actions': ['audit.read']}]}}, f)
    secret = os.path.join(tmp, 'hb.secret')
    with open(os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600), 'w') as f:
        f.write(secrets.token_hex(32) + '\n')
    cluster_map = os.path.join(tmp, 'cluster-map.json')
    with open(cluster_map, 'w') as f:
        f.write('{"clusters": {"all": {"actions": ["*"]}}, "default_cluster": "all"}')
    bin_dir = args.bin_dir

    # A short freshness window: a node that stops is stale within seconds.
    router = procs.start('router', [os.path.join(bin_dir, 'ab-router'), '--listen',
                                    '127.0.0.1:0', '--heartbeat-secret-file', secret,
                                    '--freshness-ms', '5000', '--set-aside-ms', '500',
                                    '--policy', policy])
    sim = procs.start('bmcsim', [os.path.join(bin_dir, 'ab-bmcsim'), '--port', '0',
                                 '--time-scale', '0.3', '--seed', '1'])
    evil = hostile_bmc()
    env = dict(os.environ, AB_BMC_SIM='admin:password')
    node = procs.start('node', [os.path.join(bin_dir, 'ab-node'), '--node-id', 'n1', '--site', 'dc1',
                         '--listen', '127.0.0.1:0', '--store',
                         'sqlite:' + os.path.join(tmp, 'node.db'), '--cluster-map', cluster_map,
                         '--policy', policy, '--routers', 'http://127.0.0.1:%d' % router,
                         '--heartbeat-secret-file', secret, '--router-heartbeat-interval-ms',
                         '1000', '--handlers', 'bmc', '--poll-interval-ms', '20',
                         '--idle-poll-max-ms', '100', '--recovery-interval-ms', '200',
                         '--bmc-allow-loopback', '1', '--bmc-timeout-ms', '3000'], env=env)

    # Router and node serve the same files without credentials, with their policy headers.
    for port in (router, node):
        for name, kind in (('', 'text/html'), ('app.js', 'text/javascript'),
                           ('style.css', 'text/css')):
            with urllib.request.urlopen('http://127.0.0.1:%d/ui/%s' % (port, name),
                                        timeout=10) as r:
                check(r.status == 200 and r.headers['Content-Type'].startswith(kind),
                      '/ui/%s on port %d: %s %s' % (name, port, r.status,
                                                    r.headers['Content-Type']))
                check("default-src 'self'" in (r.headers['Content-Security-Policy'] or '') and
                      r.headers['X-Content-Type-Options'] == 'nosniff',
                      '/ui/%s on port %d lacks its policy headers' % (name, port))

    # The router's own view follows the policy.
    check(call(router, 'GET', '/v1/cluster')[0] == 401, '/v1/cluster without a token is not 401')
    check(call(router, 'GET', '/v1/cluster', auditor)[0] == 403,
          '/v1/cluster without read is not 403')
    wait_for('the node to announce itself',
             lambda: call(router, 'GET', '/v1/cluster', viewer)[0] == 200 and
             any(s.get('live_nodes') for s in call(router, 'GET', '/v1/cluster', viewer)[1]
                 ['sites']))

    driver = browser(tmp)
    try:
        ui = 'http://127.0.0.1:%d/ui/' % router
        driver.get(ui)
        wait_for('the page to ask for a token',
                 lambda: 'enter a token' in (text_of(driver, '#status') or ''))
        driver.find_element(By.ID, 'token').send_keys(viewer)
        driver.find_element(By.ID, 'token-use').click()
        wait_for('node n1 to show as fresh', lambda: driver.find_elements(
            By.CSS_SELECTOR, '#sites tr[data-node="n1"][data-health="fresh"]'))
        check(driver.execute_script('return sessionStorage.getItem("autobuild.token")') == viewer,
              'the token is not kept in sessionStorage')

        # Hosts: one on the simulated fleet, one behind the hostile BMC.
        hosts = [{'name': 'h1', 'site': 'dc1', 'credential_ref': 'env:AB_BMC_SIM',
                  'bmc_endpoint': 'http://127.0.0.1:%d/bmc/h1' % sim},
                 {'name': 'evil1', 'site': 'dc1', 'credential_ref': 'env:AB_BMC_SIM',
                  'bmc_endpoint': 'http://127.0.0.1:%d/bmc/evil1' % evil.server_address[1]}]
        status, body = call(router, 'POST', '/v1/hosts', admin, {'hosts': hosts})
        check(status == 201, 'POST /v1/hosts: %s %s' % (status, body))

        def submit(action, host):
            status, body = call(router, 'POST', '/v1/requests', admin,
                                {'action': action, 'host': host})
            check(status == 202, 'POST /v1/requests %s %s: %s %s' % (action, host, status, body))
            return body['requests'][0]['id']

        def state(rid):
            return (call(router, 'GET', '/v1/requests/%d' % rid, viewer)[1] or {}).get('state')

        discover = submit('discover', 'h1')
        wait_for('discover of h1 to succeed', lambda: state(discover) == 'succeeded', timeout=20)

        # A build's progress moves through its five steps while the page watches: in the list
        # while it runs, and in its detail (opened from the list), which stays when it ends.
        build = submit('build', 'h1')
        row = '#inflight tr[data-request="%d"]' % build
        seen = set()
        opened = False
        eta_api = eta_shown = False

        def progressed():
            nonlocal opened, eta_api, eta_shown
            shown = text_of(driver, row + ' .progress-text')
            if shown:
                seen.add(shown)
                if not opened:
                    driver.find_element(By.CSS_SELECTOR, row + ' button').click()
                    opened = True
            if opened and text_of(driver, '#detail-id') == str(build):
                detail_shown = text_of(driver, '#detail .progress-text')
                if detail_shown:
                    seen.add(detail_shown)
            # The ETA, when the API gives one (the eta engineer's fields): shown with the row.
            if shown and not eta_api:
                eta_api = 'eta' in (call(router, 'GET', '/v1/requests/%d' % build, viewer)[1]
                                    or {})
            if shown and text_of(driver, row + ' .eta'):
                eta_shown = True
            return len(seen) >= 2 and (eta_shown or not eta_api)

        try:
            wait_for('the build\'s progress to update', progressed, timeout=30)
        except Failure:
            print('seen: %s; running: %s; the request: %s' % (
                seen, call(router, 'GET', '/v1/requests?site=dc1&state=running', viewer),
                call(router, 'GET', '/v1/requests/%d' % build, viewer)), file=sys.stderr)
            raise
        print('webview: progress seen for request %d: %s; ETA in the API: %s, shown: %s' % (
            build, sorted(seen), eta_api, eta_shown))
        os.makedirs(args.artifacts, exist_ok=True)
        moving = os.path.join(args.artifacts, 'webview-progress.png')
        driver.save_screenshot(moving)
        print('webview: screenshot ' + moving)

        # A failure with a hostile reason: shown as text, never run.
        bad = submit('discover', 'evil1')
        failed_row = '#failures tr[data-request="%d"]' % bad
        reason = wait_for('the failure of evil1 with its reason',
                          lambda: text_of(driver, failed_row + ' .reason'))
        check(HOSTILE in reason, 'the reason is not shown as its text: %r' % reason)
        check(not driver.find_elements(By.CSS_SELECTOR, 'main img, main b'),
              'the hostile reason became markup')
        check(driver.execute_script('return window.__xss') is None, 'the hostile reason ran')

        # Its detail, with the job chain.
        driver.find_element(By.CSS_SELECTOR, failed_row + ' button').click()
        wait_for('the detail of the failed request', lambda: driver.find_elements(
            By.CSS_SELECTOR, '#detail tr[data-job]'))
        check(HOSTILE in driver.find_element(By.ID, 'detail').text,
              'the job chain does not show the reason')
        check(not driver.find_elements(By.CSS_SELECTOR, '#detail img'),
              'the detail turned the reason into markup')
        wait_for('the build to end', lambda: state(build) in ('succeeded', 'failed'), timeout=30)

        os.makedirs(args.artifacts, exist_ok=True)
        shot = os.path.join(args.artifacts, 'webview.png')
        driver.save_screenshot(shot)
        print('webview: screenshot ' + shot)

        # The node stops: the router's view, and so the page, shows it stale.
        procs.kill('node')
        wait_for('node n1 to show as stale', lambda: driver.find_elements(
            By.CSS_SELECTOR, '#sites tr[data-node="n1"][data-health="stale"]'), timeout=20)
        stale = os.path.join(args.artifacts, 'webview-stale.png')
        driver.save_screenshot(stale)
        print('webview: screenshot ' + stale)

        # The page ran under its own policy: no violation reported.
        violations = [e['message'] for e in driver.get_log('browser')
                      if 'Content Security Policy' in e.get('message', '')]
        check(not violations, 'CSP violations: %s' % violations)
        check(driver.execute_script('return window.__xss') is None, 'the hostile reason ran')
    except Failure:
        # What the page showed, and what the browser said, to tell why.
        try:
            print('--- the page\n' + driver.find_element(By.TAG_NAME, 'body').text,
                  file=sys.stderr)
            for e in driver.get_log('browser'):
                print('browser: ' + e.get('message', ''), file=sys.stderr)
        except WebDriverException:
            pass
        raise
    finally:
        driver.quit()
        evil.shutdown()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--bin-dir', required=True)
    parser.add_argument('--artifacts', required=True)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix='ab_webview_')
    procs = Processes(tmp)
    ok = False
    try:
        run(args, tmp, procs)
        ok = True
    except (Failure, WebDriverException) as e:
        print('webview test FAILED: %s' % e, file=sys.stderr)
        for name in ('router', 'node', 'bmcsim'):
            path = os.path.join(tmp, name + '.log')
            if os.path.exists(path):
                with open(path) as f:
                    print('--- %s.log (last lines)\n%s' % (name, ''.join(f.readlines()[-30:])),
                          file=sys.stderr)
    finally:
        procs.stop_all()
    if ok:
        shutil.rmtree(tmp, ignore_errors=True)
        print('webview test passed')
        return 0
    print('webview test: files kept in ' + tmp, file=sys.stderr)
    return 1


if __name__ == '__main__':
    sys.exit(main())
