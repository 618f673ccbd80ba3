// The switch's nftables table from the faults in force.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planLab } from './layout.js';
import { renderDelayRules, renderRuleset, tableName } from './ruleset.js';

const state = planLab({ name: 'r', id: 1, hosts: 3, rings: 2, stateDir: '/x', config: '/x/r/lab.yaml', daemons: false, node: 'node', haven: 'haven.js', now: new Date(0) });
const base = { table: tableName(state.prefix), hosts: state.hosts, cuts: [], blocks: [], degrades: [] };

describe('renderRuleset', () => {
  it('replaces the whole table in one transaction, empty when nothing is in force', () => {
    const text = renderRuleset(base);
    assert.equal(tableName('hvl1-'), 'hvl1');
    assert.match(text, /^add table bridge hvl1\ndelete table bridge hvl1\ntable bridge hvl1 \{/);
    assert.doesNotMatch(text, /drop/);
  });

  it("drops a cut host's frames on that ring's port only, both ways", () => {
    const text = renderRuleset({ ...base, cuts: [{ host: 'h2', ring: 1 }] });
    assert.match(text, /iifname "hvl1-h2r1" counter drop/);
    assert.match(text, /oifname "hvl1-h2r1" counter drop/);
    assert.doesNotMatch(text, /h2r0/);
  });

  it('blocks a group from another on every ring', () => {
    const text = renderRuleset({ ...base, blocks: [{ from: ['h1'], to: ['h2', 'h3'] }] });
    assert.match(text, /iifname \{ "hvl1-h1r0", "hvl1-h1r1" \} oifname \{ "hvl1-h2r0", "hvl1-h2r1", "hvl1-h3r0", "hvl1-h3r1" \} counter drop/);
  });
});

describe('loss and delay', () => {
  it('drops a share of the frames a lossy host sends, on every ring', () => {
    const text = renderRuleset({ ...base, degrades: [{ host: 'h2', lossPct: 30, delayMs: 0, method: 'bridge' }] });
    assert.match(text, /iifname \{ "hvl1-h2r0", "hvl1-h2r1" \} numgen random mod 100 < 30 counter drop/);
    assert.doesNotMatch(renderDelayRules(state.hosts, [{ host: 'h2', lossPct: 30, delayMs: 0, method: 'bridge' }]), /NFQUEUE/);
  });

  it("queues a delayed host's frames to its delay line, bypassed when none is bound", () => {
    const text = renderDelayRules(state.hosts, [{ host: 'h3', lossPct: 0, delayMs: 200, method: 'bridge', queue: 3 }]);
    assert.match(text, /^\*filter\n/);
    assert.match(text, /-A FORWARD -m physdev --physdev-in hvl1-h3r0 .* -j NFQUEUE --queue-num 3 --queue-bypass/);
    assert.match(text, /-A FORWARD -m physdev --physdev-in hvl1-h3r1 .* -j NFQUEUE --queue-num 3 --queue-bypass/);
    assert.match(text, /COMMIT\n$/);
    assert.doesNotMatch(renderRuleset({ ...base, degrades: [{ host: 'h3', lossPct: 0, delayMs: 200, method: 'bridge', queue: 3 }] }), /drop/);
  });
});
