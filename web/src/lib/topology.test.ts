import { describe, expect, it } from 'vitest';
import type { NodeView, SuiteView } from '../api/types.ts';
import suiteFixture from '../fixtures/suite-topology.json';
import { BOX_W, FRAME_HEAD, hasTopology, topologyLayout, type TopologyLayout } from './topology.ts';

const SUITE = suiteFixture as unknown as SuiteView;
const nodesOf = (test: string) => SUITE.tests.find((t) => t.name === test)!.nodes!;
const box = (l: TopologyLayout, role: string) => l.boxes.find((b) => b.role === role)!;
const texts = (l: TopologyLayout, role: string) => box(l, role).lines.map((x) => x.text);

describe('hasTopology', () => {
  it('is false for a single db and its load machine, and for a test not placed yet', () => {
    expect(hasTopology(nodesOf('single'))).toBe(false);
    expect(hasTopology([])).toBe(false);
    expect(hasTopology(undefined)).toBe(false);
    expect(topologyLayout(nodesOf('single'))).toBeNull();
  });

  it('is true with replicas, a pooler or a router', () => {
    expect(hasTopology(nodesOf('async-replicas'))).toBe(true);
    expect(hasTopology(nodesOf('pooled-replicas'))).toBe(true);
    expect(hasTopology(nodesOf('replica-reads'))).toBe(true);
    const pooledSingle: NodeView[] = [
      { role: 'db', address: '127.0.0.10', serves: 'single' },
      { role: 'pooler', address: '127.0.0.30', serves: 'pgbouncer' },
      { role: 'loader', address: '127.0.0.40', serves: 'load' },
    ];
    expect(hasTopology(pooledSingle)).toBe(true);
  });
});

describe('topologyLayout', () => {
  const pooled = topologyLayout(nodesOf('pooled-replicas'))!;

  it('puts load, pooler, primary and standbys in columns, left to right', () => {
    const x = (role: string) => box(pooled, role).x;
    expect(x('loader')).toBe(0);
    expect(x('pooler')).toBeGreaterThan(x('loader'));
    expect(x('db')).toBeGreaterThan(x('pooler'));
    expect(x('replica-1')).toBeGreaterThan(x('db'));
    expect(x('replica-2')).toBe(x('replica-1'));
    expect(box(pooled, 'replica-2').y).toBeGreaterThan(box(pooled, 'replica-1').y);
    expect(pooled.width).toBe(x('replica-1') + BOX_W);
    for (const b of pooled.boxes) expect(b.y + b.h).toBeLessThanOrEqual(pooled.height);
  });

  it('connects the load through the pooler to the primary, and the primary to each standby', () => {
    expect(pooled.edges.map((e) => [e.from, e.to, e.kind, e.label, e.waits])).toEqual([
      ['loader', 'pooler', 'client', null, false],
      ['pooler', 'db', 'client', null, false],
      ['db', 'replica-1', 'replication', 'quorum', true],
      ['db', 'replica-2', 'replication', 'quorum', true],
    ]);
    // Arrows run from a box's right side to the next one's left side, the head at the end.
    const e = pooled.edges[0]!;
    expect(e.x1).toBe(box(pooled, 'loader').x + BOX_W);
    expect(e.x2).toBe(box(pooled, 'pooler').x);
    expect(e.head.startsWith(`${e.x2},${e.y2} `)).toBe(true);
  });

  it('goes from the load straight to the primary without a pooler; async standbys do not hold commits', () => {
    const l = topologyLayout(nodesOf('async-replicas'))!;
    expect(l.edges.map((e) => [e.from, e.to, e.label, e.waits])).toEqual([
      ['loader', 'db', null, false],
      ['db', 'replica-1', 'async', false],
      ['db', 'replica-2', 'async', false],
    ]);
  });

  it("says each box's role, address, version and a standby's lag", () => {
    expect(texts(pooled, 'db')).toEqual(['db · primary', '127.10.3.10:5432', 'PostgreSQL 15.14']);
    expect(box(pooled, 'db').title).toContain('PostgreSQL 15.14 (Debian 15.14-0+deb12u1)');
    expect(texts(pooled, 'pooler')).toEqual(['pooler · pgbouncer', '127.10.3.30:6432', 'PgBouncer 1.18.0']);
    expect(texts(pooled, 'loader')).toEqual(['loader · load', '127.10.3.40']);
    const async = topologyLayout(nodesOf('async-replicas'))!;
    expect(texts(async, 'replica-1').slice(3)).toEqual(['lag max 18.2 kB · mean 7.4 kB', 'replay lag max 1.80 ms']);
  });

  it('cuts what does not fit a box, whole in its tooltip', () => {
    const long = 'a-very-long-host-name.example.internal:5432';
    const l = topologyLayout([
      { role: 'db', address: 'x', endpoint: long, serves: 'primary' },
      { role: 'replica-1', address: 'y', serves: 'standby' },
    ])!;
    expect(texts(l, 'db')[1]).toBe('a-very-long-host-name.example…');
    expect(box(l, 'db').title).toContain(long);
  });

  it('labels a standby "WAL" until its primary reports its sync state', () => {
    const l = topologyLayout([
      { role: 'db', address: '10.0.0.1', serves: 'primary' },
      { role: 'replica-1', address: '10.0.0.2', serves: 'standby', replication: null },
      { role: 'loader', address: '10.0.0.3', serves: 'load' },
    ])!;
    expect(l.edges[1]).toMatchObject({ to: 'replica-1', label: 'WAL', waits: false });
    expect(texts(l, 'replica-1')).toEqual(['replica-1 · standby', '10.0.0.2', 'lag: not measured yet']);
  });
});

describe('a load on the replicas, through the router', () => {
  const test = SUITE.tests.find((t) => t.name === 'replica-reads')!;
  const routed = topologyLayout(test.nodes, test.result?.servers)!;

  it('puts load, router, standbys and, feeding them, the primary in columns, left to right', () => {
    const x = (role: string) => box(routed, role).x;
    expect(x('loader')).toBe(0);
    expect(x('router')).toBeGreaterThan(x('loader'));
    expect(x('replica-1')).toBeGreaterThan(x('router'));
    expect(x('replica-2')).toBe(x('replica-1'));
    expect(x('db')).toBeGreaterThan(x('replica-1'));
    expect(routed.width).toBe(x('db') + BOX_W);
    expect(box(routed, 'router').kind).toBe('router');
  });

  it('connects the load to the router, the router to each standby, and the primary to them', () => {
    expect(routed.edges.map((e) => [e.from, e.to, e.kind, e.label, e.waits])).toEqual([
      ['loader', 'router', 'client', 'reads', false],
      ['router', 'replica-1', 'client', 'reads', false],
      ['router', 'replica-2', 'client', 'reads', false],
      ['db', 'replica-1', 'replication', 'async', false],
      ['db', 'replica-2', 'replication', 'async', false],
    ]);
    // The primary's arrows leave its left side for the standbys' right sides.
    const wal = routed.edges.find((e) => e.from === 'db' && e.to === 'replica-1')!;
    expect(wal.x1).toBe(box(routed, 'db').x);
    expect(wal.x2).toBe(box(routed, 'replica-1').x + BOX_W);
    expect(wal.head.startsWith(`${wal.x2},${wal.y2} `)).toBe(true);
  });

  it('has no arrow through a box', () => {
    for (const e of routed.edges) {
      for (let i = 1; i < 20; i += 1) {
        const [px, py] = [e.x1 + ((e.x2 - e.x1) * i) / 20, e.y1 + ((e.y2 - e.y1) * i) / 20];
        const inside = routed.boxes.filter((b) => px > b.x && px < b.x + b.w && py > b.y && py < b.y + b.h);
        expect(inside.map((b) => `${e.from}->${e.to} through ${b.role}`)).toEqual([]);
      }
    }
  });

  it("says the router's HAProxy release, the whole version in its tooltip, and how it spreads the load", () => {
    expect(texts(routed, 'router')).toEqual(['router · haproxy', '127.10.4.30:5432', 'HAProxy 2.6.12', 'round-robin over 2 standbys']);
    expect(box(routed, 'router').title).toContain('HAProxy version 2.6.12-1+deb12u3 2025/10/03 - https://haproxy.org/');
  });

  it("shows each standby's mean commits/s when the result has its samples", () => {
    expect(texts(routed, 'replica-1')).toContain('3,250 commits/s');
    expect(texts(routed, 'replica-2')).toContain('3,230 commits/s');
    expect(texts(routed, 'db').join(' ')).not.toContain('commits/s');
    // Without them (an older result, a load on the primary): no such line.
    expect(texts(topologyLayout(test.nodes)!, 'replica-1').join(' ')).not.toContain('commits/s');
    expect(texts(topologyLayout(nodesOf('async-replicas'), { 'replica-9': [] })!, 'replica-1').join(' ')).not.toContain('commits/s');
  });
});

describe('a Patroni cluster, its leader killed mid-load', () => {
  const test = SUITE.tests.find((t) => t.name === 'leader-killed')!;
  const cluster = topologyLayout(test.nodes, test.result?.servers, test.fault)!;
  const members = ['db', 'replica-1', 'replica-2'];

  it('is a topology', () => {
    expect(hasTopology(test.nodes)).toBe(true);
    expect(cluster.boxes.map((b) => [b.role, b.kind])).toEqual([
      ['loader', 'load'],
      ['router', 'router'],
      ['db', 'member'],
      ['replica-1', 'member'],
      ['replica-2', 'member'],
    ]);
  });

  it('puts load, router and the members in columns, the members one above the other in a frame', () => {
    const x = (role: string) => box(cluster, role).x;
    expect(x('loader')).toBe(0);
    expect(x('router')).toBeGreaterThan(x('loader'));
    for (const m of members) expect(x(m)).toBe(x('db'));
    expect(x('db')).toBeGreaterThan(x('router') + BOX_W);
    expect(box(cluster, 'replica-1').y).toBeGreaterThan(box(cluster, 'db').y + box(cluster, 'db').h);
    expect(box(cluster, 'replica-2').y).toBeGreaterThan(box(cluster, 'replica-1').y + box(cluster, 'replica-1').h);
    expect(cluster.frames).toHaveLength(1);
    const f = cluster.frames[0]!;
    expect(f.label).toBe('Patroni cluster');
    // The frame holds every member, room for its label above them, and nothing else.
    for (const b of cluster.boxes) {
      const inside = b.x >= f.x && b.x + b.w <= f.x + f.w && b.y >= f.y + FRAME_HEAD && b.y + b.h <= f.y + f.h;
      expect([b.role, inside]).toEqual([b.role, members.includes(b.role)]);
    }
    expect(f.x).toBeGreaterThan(x('router') + BOX_W);
    expect(cluster.width).toBe(f.x + f.w);
    expect(f.y).toBeGreaterThanOrEqual(0);
    expect(f.y + f.h).toBeLessThanOrEqual(cluster.height);
    for (const b of cluster.boxes) expect(b.y + b.h).toBeLessThanOrEqual(cluster.height);
  });

  it('goes from the load to the router, and from it to the first leader (dashed: until the fault) and to the new one', () => {
    expect(cluster.edges.map((e) => [e.from, e.to, e.kind, e.label, e.past])).toEqual([
      ['loader', 'router', 'client', null, false],
      ['router', 'db', 'client', 'until the fault', true],
      ['router', 'replica-1', 'client', 'after failover', false],
    ]);
    // No replication arrows: Patroni chooses who streams from whom.
    expect(cluster.edges.filter((e) => e.kind === 'replication')).toEqual([]);
    for (const e of cluster.edges) {
      for (let i = 1; i < 20; i += 1) {
        const [px, py] = [e.x1 + ((e.x2 - e.x1) * i) / 20, e.y1 + ((e.y2 - e.y1) * i) / 20];
        const inside = cluster.boxes.filter((b) => px > b.x && px < b.x + b.w && py > b.y && py < b.y + b.h);
        expect(inside.map((b) => `${e.from}->${e.to} through ${b.role}`)).toEqual([]);
      }
    }
  });

  it('marks the new leader, and what became of the first', () => {
    expect(texts(cluster, 'replica-1')).toEqual(['replica-1 · patroni', '127.10.5.20:5432', 'PostgreSQL 15.14', 'leader after failover']);
    expect(box(cluster, 'replica-1').lines[3]!.style).toBe('flag');
    expect(texts(cluster, 'db')).toEqual(['db · patroni', '127.10.5.10:5432', 'PostgreSQL 15.14', 'first leader · killed']);
    expect(texts(cluster, 'replica-2')).toEqual(['replica-2 · patroni', '127.10.5.21:5432', 'PostgreSQL 15.14']);
    expect(cluster.boxes.filter((b) => b.leads).map((b) => b.role)).toEqual(['replica-1']);
  });

  it('says the router sends the load to the leader and keeps the cluster in its etcd', () => {
    expect(texts(cluster, 'router')).toEqual(['router · haproxy+etcd', '127.10.5.30:5432', 'HAProxy 2.6.12', 'to the leader of 3 members', "etcd: the cluster's state"]);
    expect(box(cluster, 'router').title).toContain('HAProxy to the leader of 3 Patroni members');
  });

  it('goes to the db, its leader, before any fault', () => {
    const calm = topologyLayout(test.nodes)!;
    expect(calm.edges.map((e) => [e.from, e.to, e.label, e.past])).toEqual([
      ['loader', 'router', null, false],
      ['router', 'db', 'leader', false],
    ]);
    expect(texts(calm, 'db')[3]).toBe('leader');
    expect(texts(calm, 'replica-1')).toHaveLength(3);
    expect(calm.boxes.filter((b) => b.leads).map((b) => b.role)).toEqual(['db']);
  });

  it('keeps the db the leader when it led again after a restart, or when the new leader is no member', () => {
    const again = topologyLayout(test.nodes, null, { kind: 'restart', at_ms: 1, recovered_at_ms: 2, new_leader: 'db', new_leader_at_ms: 3 })!;
    expect(again.edges.map((e) => [e.to, e.label])).toEqual([
      ['router', null],
      ['db', 'leader'],
    ]);
    expect(texts(again, 'db').slice(3)).toEqual(['first leader · restarted', 'leader again after the fault']);
    const unknown = topologyLayout(test.nodes, null, { kind: 'kill', at_ms: 1, new_leader: 'replica-9', new_leader_at_ms: 3 })!;
    expect(unknown.boxes.filter((b) => b.leads).map((b) => b.role)).toEqual(['db']);
  });

  it('draws no frame for the other topologies', () => {
    for (const name of ['async-replicas', 'pooled-replicas', 'replica-reads']) expect(topologyLayout(nodesOf(name))!.frames).toEqual([]);
  });
});
