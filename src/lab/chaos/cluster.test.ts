// The chaos suite's view of three controllers: when they make a settled shape.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { controllersUnsettled, type Health } from './cluster.js';

const names = ['controller', 'controller2', 'controller3'];
const leader = (name: string, epoch = 7): Health => ({ name, role: 'leader', phase: 'running', epoch, leader: { name, epoch } });
const follower = (name: string, of: string, phase = 'following'): Health => ({ name, role: 'follower', phase, epoch: 5, leader: { name: of, epoch: 7 } });

describe('controllersUnsettled', () => {
  it('takes one leader and two followers naming it', () => {
    assert.equal(controllersUnsettled(names, [follower('controller', 'controller2'), leader('controller2'), follower('controller3', 'controller2')]), undefined);
  });

  it('says which controller does not answer, none or two leading, or a follower astray', () => {
    assert.equal(controllersUnsettled(names, [undefined, leader('controller2'), undefined]), 'controllers controller, controller3 do not answer');
    assert.equal(controllersUnsettled(names, [follower('controller', 'x'), follower('controller2', 'x'), follower('controller3', 'x')]), 'no controller leads');
    assert.equal(controllersUnsettled(names, [leader('controller', 5), leader('controller2'), follower('controller3', 'controller2')]), 'controller and controller2 both lead');
    // A paused leader resumed and not stepped down yet, or a follower that still names the old leader.
    assert.equal(controllersUnsettled(names, [follower('controller', 'controller', 'superseded'), leader('controller2'), follower('controller3', 'controller')]), 'controller is superseded, its leader controller; controller3 is following, its leader controller');
    assert.equal(controllersUnsettled(names, [{ ...follower('controller', 'x'), leader: null }, leader('controller2'), follower('controller3', 'controller2')]), 'controller is following, with no leader');
  });
});
