import type { StreamState } from '../core/types';
import type { NodeStatus } from './red-types';

/** A stream state as Node-RED's status palette shows it: green ok, yellow in between, red failed, grey idle. */
export const STATE_FILL: Readonly<Record<StreamState, NodeStatus['fill']>> = {
  idle: 'grey',
  starting: 'yellow',
  healthy: 'green',
  degraded: 'yellow',
  recovering: 'yellow',
  failed: 'red',
};
