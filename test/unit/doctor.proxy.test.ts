import * as assert from 'node:assert/strict';
import { configuredProxy, describeProxy, displayProxyUrl, routeFor, type ProxyInputs } from '../../src/core/doctor/proxy';

const inputs = (over: Partial<ProxyInputs> = {}): ProxyInputs => ({ env: {}, ...over });

describe('doctor: which way requests go (VS Code proxy rules)', () => {
  const cases: Array<[string, string, Partial<ProxyInputs>, string | undefined, RegExp]> = [
    ['nothing configured', 'https://idp.example.com', {}, undefined, /no proxy is configured/],
    ['http.proxy', 'https://idp.example.com', { httpProxy: 'http://proxy.corp:3128' }, 'http://proxy.corp:3128', /^http\.proxy$/],
    ['HTTPS_PROXY', 'https://idp.example.com', { env: { HTTPS_PROXY: 'http://p.corp:8080' } }, 'http://p.corp:8080', /^HTTPS_PROXY$/],
    ['https_proxy before HTTP_PROXY', 'http://idp.example.com', { env: { HTTP_PROXY: 'http://a:1', https_proxy: 'http://b:2' } }, 'http://b:2', /^https_proxy$/],
    ['HTTP_PROXY alone serves https too (as VS Code reads it)', 'https://x.example.com', { env: { HTTP_PROXY: 'http://a:1' } }, 'http://a:1', /^HTTP_PROXY$/],
    ['http.proxy wins over the environment', 'https://x.example.com', { httpProxy: 'http://s:1', env: { HTTPS_PROXY: 'http://e:2' } }, 'http://s:1', /^http\.proxy$/],
    ['proxySupport off', 'https://x.example.com', { proxySupport: 'off', httpProxy: 'http://s:1' }, undefined, /off/],
    ['localhost direct', 'http://localhost:8080', { httpProxy: 'http://s:1' }, undefined, /always goes direct/],
    ['127.0.0.1 direct', 'http://127.0.0.1:8080', { httpProxy: 'http://s:1' }, undefined, /always goes direct/],
    ['::1 direct', 'http://[::1]:8080', { httpProxy: 'http://s:1' }, undefined, /always goes direct/],
    ['other loopback addresses are proxied, as VS Code does', 'http://127.0.0.2:8080', { httpProxy: 'http://s:1' }, 'http://s:1', /http\.proxy/],
    ['NO_PROXY suffix', 'https://adb-1.azuredatabricks.net', { httpProxy: 'http://s:1', env: { NO_PROXY: 'corp.local,.azuredatabricks.net' } }, undefined, /^NO_PROXY$/],
    ['NO_PROXY name without dot matches subdomains', 'https://a.b.corp.local', { httpProxy: 'http://s:1', env: { no_proxy: 'corp.local' } }, undefined, /^no_proxy$/],
    ['NO_PROXY does not match a longer name', 'https://notcorp.local', { httpProxy: 'http://s:1', env: { NO_PROXY: 'corp.local' } }, 'http://s:1', /http\.proxy/],
    ['NO_PROXY with port', 'https://idp.corp.local:8443', { httpProxy: 'http://s:1', env: { NO_PROXY: 'idp.corp.local:8443' } }, undefined, /NO_PROXY/],
    ['NO_PROXY with another port', 'https://idp.corp.local', { httpProxy: 'http://s:1', env: { NO_PROXY: 'idp.corp.local:8443' } }, 'http://s:1', /http\.proxy/],
    ['NO_PROXY *', 'https://anything.example', { httpProxy: 'http://s:1', env: { NO_PROXY: '*' } }, undefined, /NO_PROXY/],
    ['http.noProxy', 'https://sts.amazonaws.com', { httpProxy: 'http://s:1', noProxy: ['amazonaws.com'] }, undefined, /^http\.noProxy$/],
    ['http.noProxy replaces NO_PROXY', 'https://idp.corp.local', { httpProxy: 'http://s:1', noProxy: ['other.example'], env: { NO_PROXY: 'corp.local' } }, 'http://s:1', /http\.proxy/],
    ['a proxy without scheme is ignored', 'https://x.example.com', { httpProxy: 'proxy.corp:3128' }, undefined, /no proxy/],
  ];
  for (const [name, url, over, proxy, because] of cases) {
    it(name, () => {
      const r = routeFor(url, inputs(over));
      assert.equal(r.proxy, proxy);
      assert.match(r.because, because);
    });
  }

  it('a password in the proxy URL is never shown', () => {
    assert.equal(displayProxyUrl('http://svc:s3cr3t-Passw0rd@proxy.corp:3128'), 'http://svc:[redacted]@proxy.corp:3128');
    const r = configuredProxy(inputs({ env: { HTTPS_PROXY: 'http://svc:s3cr3t-Passw0rd@proxy.corp:3128/' } }));
    assert.equal(r.proxy, 'http://svc:[redacted]@proxy.corp:3128');
    const d = describeProxy(inputs({ httpProxy: 'http://u:hunter2hunter2@p:1' }), [{ label: 'identity provider', url: 'https://idp.example.com' }]);
    assert.ok(!d.message.includes('hunter2'), d.message);
  });

  it('names the proxy, where it was set, and which hosts go through it or direct', () => {
    const d = describeProxy(inputs({ httpProxy: 'http://127.0.0.5:8888', noProxy: ['127.0.0.4'] }), [
      { label: 'identity provider', url: 'http://127.0.0.2:9000/' },
      { label: 'dev Databricks', url: 'http://127.0.0.4:9421' },
      { label: 'dev AWS', url: 'http://127.0.0.3:7000/' },
      { label: 'staging AWS', url: 'http://127.0.0.3:7000/other' },
      { label: 'local', url: 'http://127.0.0.1:1234' },
    ]);
    assert.equal(d.message, 'Proxy http://127.0.0.5:8888 (from http.proxy). Through it: identity provider http://127.0.0.2:9000, dev AWS http://127.0.0.3:7000. Direct: dev Databricks http://127.0.0.4:9421 (http.noProxy), local http://127.0.0.1:1234 (127.0.0.1 always goes direct).');
    assert.match(d.action ?? '', /NODE_EXTRA_CA_CERTS/);
  });

  it('says so when there is no proxy', () => {
    assert.equal(describeProxy(inputs(), [{ label: 'identity provider', url: 'https://idp.example.com' }]).message, 'No proxy (no proxy is configured): requests go direct.');
    assert.equal(describeProxy(inputs({ proxySupport: 'off', httpProxy: 'http://p:1' }), []).message, 'No proxy (http.proxySupport is off): requests go direct.');
  });
});
