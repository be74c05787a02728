/**
 * The topology diagram, the suite's Topology panel and the load's replication, pooler and
 * per-server panels, rendered to static HTML (no DOM needed; charts draw in effects, which never run here).
 */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { SuiteView, TestView } from '../api/types.ts';
import suiteFixture from '../fixtures/suite-topology.json';
import { loadMetrics } from '../lib/metrics.ts';
import { LoadMetricsStack, stackData } from './LoadMetrics.tsx';
import { Topologies } from './Topologies.tsx';
import { TopologyDiagram } from './TopologyDiagram.tsx';

const SUITE = suiteFixture as unknown as SuiteView;
const test = (name: string) => SUITE.tests.find((t) => t.name === name)!;
const diagram = (t: TestView) => renderToStaticMarkup(createElement(TopologyDiagram, { nodes: t.nodes, name: t.name, servers: t.result?.servers, fault: t.fault }));

describe('TopologyDiagram', () => {
  it('draws a box per machine and an arrow per connection', () => {
    const html = diagram(test('pooled-replicas'));
    expect(html).toMatch(/^<svg class="topology" role="group" aria-label="Topology of pooled-replicas"/);
    for (const role of ['loader', 'pooler', 'db', 'replica-1', 'replica-2']) expect(html).toContain(`data-role="${role}"`);
    expect(html.match(/class="topo-node /g)).toHaveLength(5);
    for (const edge of ['loader-&gt;pooler', 'pooler-&gt;db', 'db-&gt;replica-1', 'db-&gt;replica-2']) expect(html).toContain(`data-edge="${edge}"`);
    expect(html.match(/<line /g)).toHaveLength(4);
  });

  it('labels the standbys with their sync state, solid when commits wait for them', () => {
    const pooled = diagram(test('pooled-replicas'));
    expect(pooled.match(/class="topo-edge-label">quorum</g)).toHaveLength(2);
    expect(pooled.match(/topo-edge topo-edge-replication topo-edge-waits/g)).toHaveLength(2);
    const async = diagram(test('async-replicas'));
    expect(async.match(/class="topo-edge-label">async</g)).toHaveLength(2);
    expect(async).not.toContain('topo-edge-waits');
    // The load's connections carry no label.
    expect(async).toMatch(/data-edge="loader-&gt;db"><line [^>]*><\/line><polygon [^>]*><\/polygon><\/g>/);
  });

  it('shows role, address, version and lag in the boxes', () => {
    const html = diagram(test('async-replicas'));
    expect(html).toContain('>replica-2 · standby</text>');
    expect(html).toContain('>127.10.2.21:5432</text>');
    expect(html).toContain('>lag max 24.6 kB · mean 10.0 kB</text>');
    expect(html).toContain('>replay lag max 2.40 ms</text>');
    expect(html).toContain('>PostgreSQL 15.14</text>');
    expect(html).toContain('<title>db · primary\n127.10.2.10:5432\nPostgreSQL 15.14 (Debian 15.14-0+deb12u1)</title>');
    expect(diagram(test('pooled-replicas'))).toContain('>PgBouncer 1.18.0</text>');
  });

  it('draws nothing for a single server', () => {
    expect(diagram(test('single'))).toBe('');
  });

  it('draws the router between the load and the standbys, its arrows labelled "reads"', () => {
    const html = diagram(test('replica-reads'));
    expect(html).toContain('class="topo-node topo-router" data-role="router"');
    expect(html.match(/class="topo-node /g)).toHaveLength(5);
    for (const edge of ['loader-&gt;router', 'router-&gt;replica-1', 'router-&gt;replica-2']) {
      expect(html).toMatch(new RegExp(`class="topo-edge topo-edge-client" data-edge="${edge}"><line [^>]*></line><polygon [^>]*></polygon><text [^>]*>reads</text></g>`));
    }
    // The primary still feeds each standby; the load does not go to it.
    expect(html).toContain('data-edge="db-&gt;replica-1"');
    expect(html).toContain('data-edge="db-&gt;replica-2"');
    expect(html).not.toContain('data-edge="loader-&gt;db"');
    expect(html.match(/<line /g)).toHaveLength(5);
    expect(html.match(/class="topo-edge-label">reads</g)).toHaveLength(3);
  });

  it("shows the router's release, the whole version in its tooltip, and each standby's commits", () => {
    const html = diagram(test('replica-reads'));
    expect(html).toContain('>router · haproxy</text>');
    expect(html).toContain('>HAProxy 2.6.12</text>');
    expect(html).toContain('HAProxy version 2.6.12-1+deb12u3 2025/10/03 - https://haproxy.org/');
    expect(html).toContain('>round-robin over 2 standbys</text>');
    expect(html).toContain('>3,250 commits/s</text>');
    expect(html).toContain('>3,230 commits/s</text>');
    expect(diagram(test('async-replicas'))).not.toContain('commits/s');
  });
});

describe('TopologyDiagram of a Patroni cluster', () => {
  const html = diagram(test('leader-killed'));

  it('frames the members as "Patroni cluster", behind the boxes and arrows', () => {
    expect(html).toMatch(/<g class="topo-frame"><rect [^>]*><\/rect><text [^>]*class="topo-frame-label">Patroni cluster<\/text><\/g>/);
    expect(html.match(/class="topo-frame"/g)).toHaveLength(1);
    expect(html.indexOf('topo-frame')).toBeLessThan(html.indexOf('topo-edge'));
    for (const role of ['db', 'replica-1', 'replica-2']) expect(html).toMatch(new RegExp(`class="topo-node topo-member[^"]*" data-role="${role}"`));
    expect(html.match(/class="topo-node /g)).toHaveLength(5);
  });

  it('draws the router between the load and the leader', () => {
    expect(html).toContain('class="topo-node topo-router" data-role="router"');
    expect(html).toContain('>router · haproxy+etcd</text>');
    expect(html).toContain('>to the leader of 3 members</text>');
    expect(html).toContain('>etcd: the cluster&#x27;s state</text>');
    expect(html).toMatch(/class="topo-edge topo-edge-client" data-edge="loader-&gt;router"><line [^>]*><\/line><polygon [^>]*><\/polygon><\/g>/);
    expect(html).toMatch(/class="topo-edge topo-edge-client topo-edge-past" data-edge="router-&gt;db">.*?>until the fault<\/text><\/g>/);
    expect(html).toMatch(/class="topo-edge topo-edge-client" data-edge="router-&gt;replica-1">.*?>after failover<\/text><\/g>/);
    expect(html.match(/<line /g)).toHaveLength(3);
    expect(html).not.toContain('topo-edge-replication');
  });

  it('marks the leader after failover', () => {
    expect(html).toContain('class="topo-node topo-member topo-leads" data-role="replica-1"');
    expect(html.match(/topo-leads/g)).toHaveLength(1);
    expect(html).toMatch(/<text [^>]*class="topo-flag">leader after failover<\/text>/);
    expect(html).toContain('>first leader · killed</text>');
  });

  it('leads to the db without a fault', () => {
    const calm = diagram({ ...test('leader-killed'), fault: null });
    expect(calm).toContain('class="topo-node topo-member topo-leads" data-role="db"');
    expect(calm).toMatch(/data-edge="router-&gt;db">.*?>leader<\/text><\/g>/);
    expect(calm).not.toContain('failover');
  });
});

describe('the Topology panel', () => {
  it('has a diagram for each test with more than a single server', () => {
    const html = renderToStaticMarkup(createElement(Topologies, { tests: SUITE.tests }));
    expect(html.match(/<figure /g)).toHaveLength(4);
    expect(html).toContain('aria-label="Topology of async-replicas"');
    expect(html).toContain('aria-label="Topology of leader-killed"');
    expect(html).toContain('aria-label="Topology of pooled-replicas"');
    expect(html).toContain('aria-label="Topology of replica-reads"');
    expect(html).toContain('>3,250 commits/s</text>');
    expect(html).not.toContain('Topology of single');
    expect(html).toContain('1 single-server test not shown');
  });

  it("says the test's fault in a line under its diagram, and only there", () => {
    const html = renderToStaticMarkup(createElement(Topologies, { tests: SUITE.tests }));
    expect(html.match(/class="topology-fault small"/g)).toHaveLength(1);
    expect(html).toContain(
      '<p class="topology-fault small"><strong>Fault:</strong> kill of the primary at +3.0 s · no transaction for 11.4 s · the load restarted 38 times · replica-1 led after 10.2 s</p></figure>',
    );
    // Under the diagram of its test.
    const figure = html.split('<figure ').find((f) => f.includes('leader-killed'))!;
    expect(figure.indexOf('</svg>')).toBeLessThan(figure.indexOf('topology-fault'));
    expect(figure).toContain('>leader after failover</text>');
  });

  it('is not there when every test is a single server', () => {
    expect(renderToStaticMarkup(createElement(Topologies, { tests: [test('single')] }))).toBe('');
  });
});

describe("the load's replication and pooler panels", () => {
  const stack = (t: TestView) => {
    const metrics = loadMetrics(t.result);
    return { metrics, html: renderToStaticMarkup(createElement(LoadMetricsStack, { metrics, range: null, sync: 's', markers: [] })) };
  };

  it('draws a lag series per replica, in the unit the largest lag reads in', () => {
    const { metrics, html } = stack(test('async-replicas'));
    const lag = stackData(metrics, null).lag!;
    expect(lag.unit).toBe('kB');
    expect(lag.chart.series.map((s) => s.label)).toEqual(['replica_1 (async)', 'replica_2 (async)']);
    expect(lag.chart.series[0]!.values).toEqual([0, 18.2, 9.4, 2.1]);
    expect(html).toContain('aria-label="Replication lag"');
    expect(html).toContain('replica_1 max 18.2 kB · mean 7.4 kB · replay ≤ 1.80 ms; replica_2 max 24.6 kB');
    expect(html).not.toContain('aria-label="Pooler"');
  });

  it("shows the pooler's counts when the load went through one", () => {
    const { html } = stack(test('pooled-replicas'));
    expect(html).toContain('aria-label="Pooler"');
    expect(html).toContain('<dt>Transactions</dt><dd>10,412</dd>');
    expect(html).toContain('<dt>Queries</dt><dd>72,884</dd>');
    expect(html).toContain('183 ms');
    expect(html).toContain('0.02 ms per transaction');
  });

  it('has neither for a single server', () => {
    const { metrics, html } = stack(test('single'));
    expect(metrics.replication).toBeNull();
    expect(stackData(metrics, null).lag).toBeNull();
    expect(html).not.toContain('Replication lag');
    expect(html).not.toContain('aria-label="Pooler"');
  });
});

describe("the load's per-server panel", () => {
  const stack = (t: TestView) => {
    const metrics = loadMetrics(t.result);
    return { metrics, html: renderToStaticMarkup(createElement(LoadMetricsStack, { metrics, range: null, sync: 's', markers: [] })) };
  };

  it("draws one commits/s series per server: the primary's, then each standby's own", () => {
    const { metrics, html } = stack(test('replica-reads'));
    const chart = stackData(metrics, null).perServer!;
    expect(chart.series.map((s) => s.label)).toEqual(['primary', 'replica-1', 'replica-2']);
    expect(chart.x).toEqual([1, 2, 3, 4]);
    expect(chart.series.map((s) => s.values)).toEqual([
      [1, 1, 0, 2],
      [3210, 3260, 3240, 3290],
      [3190, 3230, 3250, 3250],
    ]);
    expect(new Set(chart.series.map((s) => s.color)).size).toBe(3);
    expect(html).toContain('aria-label="Per server"');
    expect(html).toContain('avg primary 1 · replica-1 3,250 · replica-2 3,230 commits/s');
  });

  it("spans the stack's range, the ends without values", () => {
    const { metrics } = stack(test('replica-reads'));
    const chart = stackData(metrics, [0, 5]).perServer!;
    expect(chart.x).toEqual([0, 1, 2, 3, 4, 5]);
    expect(chart.series[1]!.values).toEqual([null, 3210, 3260, 3240, 3290, null]);
  });

  it('is not there without the standbys\' own samples', () => {
    for (const name of ['single', 'async-replicas', 'pooled-replicas']) {
      const { metrics, html } = stack(test(name));
      expect(metrics.servers).toBeNull();
      expect(html).not.toContain('aria-label="Per server"');
    }
  });
});
