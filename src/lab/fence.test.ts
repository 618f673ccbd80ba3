// The fence-agents protocol's input, parsed; bad input refused with a clear message.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FenceInputError, parseFenceInput } from './fence.js';

const ENV = {};

describe('parseFenceInput', () => {
  it('reads key=value lines, skipping blanks and comments', () => {
    const { request, warnings } = parseFenceInput('# from the fencer\naction=off\n\nplug=h1\nlab=demo\nnodename=h1\n', [], ENV);
    assert.deepEqual(request, { action: 'off', plug: 'h1', lab: 'demo', stateDir: '/run/haven-lab' });
    assert.deepEqual(warnings, []);
  });

  it('accepts the old names (option, port) and command-line options, which win', () => {
    assert.deepEqual(parseFenceInput('option=status\nport=h2\n', [], ENV).request, { action: 'status', plug: 'h2', lab: 'lab', stateDir: '/run/haven-lab' });
    assert.deepEqual(parseFenceInput('action=on\nplug=h1\n', ['-o', 'off', '--lab=x', '--state-dir', '/tmp/s'], ENV).request, { action: 'off', plug: 'h1', lab: 'x', stateDir: '/tmp/s' });
  });

  it('takes the lab and state directory from the environment when the input names none', () => {
    const { request } = parseFenceInput('action=list\n', [], { HAVEN_LAB: 'e', HAVEN_LAB_STATE_DIR: '/tmp/e' });
    assert.deepEqual(request, { action: 'list', lab: 'e', stateDir: '/tmp/e' });
  });

  it('warns about unknown keys and goes on', () => {
    assert.deepEqual(parseFenceInput('action=monitor\ncolour=blue\n', [], ENV).warnings, ['ignoring unknown key "colour"']);
  });

  it('refuses what it cannot run', () => {
    assert.throws(() => parseFenceInput('plug=h1\n', [], ENV), new FenceInputError('no action given (action=off|on|reboot|status|monitor|list|metadata)'));
    assert.throws(() => parseFenceInput('action=explode\nplug=h1\n', [], ENV), /unknown action "explode"/);
    assert.throws(() => parseFenceInput('action=off\n', [], ENV), /action "off" needs plug=HOST/);
    assert.throws(() => parseFenceInput('off\n', [], ENV), /cannot read input line "off": expected key=value/);
    assert.throws(() => parseFenceInput('', ['-o'], ENV), /option -o needs a value/);
    assert.throws(() => parseFenceInput('', ['off'], ENV), /unexpected argument "off"/);
  });
});
