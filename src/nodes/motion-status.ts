import type { StreamState } from '../core/types';
import type { Translate } from './config';
import type { NodeStatus } from './red-types';
import { statusText } from './status-text';

/** What a motion-detect's status is made of, most important first. */
export interface MotionView {
  /** Refused settings: the node does nothing until they are fixed. */
  refused?: string;
  /**
   * The camera's fault (failed or recovering, with its reason), when no frame has been analysed since the stream
   * said so: frames that still arrive (from a flow that feeds this node by itself) mean the node works.
   */
  camera?: { state: StreamState; reason: string | undefined };
  /** The last frame's error (bad input), until a frame is analysed again. */
  frameError?: string;
  /** No frame for the stale time: the sensor is offline. */
  noFrames?: boolean;
  /** No frame analysed yet: nothing to say about motion. */
  waiting?: boolean;
  /** A configuration problem the node works around (bad regions): it stays beside the live state. */
  warning?: string;
  active: boolean;
  learning: boolean;
  /** The last frame's score, 0..1, and the detector's time a frame. */
  score: number;
  msPerFrame: number;
}

export function motionStatus(v: MotionView, _: Translate): NodeStatus {
  if (v.refused) return { fill: 'red', shape: 'ring', text: statusText(v.refused) };
  if (v.camera && (v.camera.state === 'failed' || v.camera.state === 'recovering')) {
    const state = _(v.camera.state === 'failed' ? 'motion-detect.status.cameraFailed' : 'motion-detect.status.cameraRecovering');
    const text = v.camera.reason ? _('motion-detect.status.withReason', { state, reason: v.camera.reason }) : state;
    return { fill: v.camera.state === 'failed' ? 'red' : 'yellow', shape: 'ring', text: statusText(text) };
  }
  if (v.frameError) return { fill: 'red', shape: 'ring', text: statusText(v.frameError) };
  if (v.noFrames) return { fill: 'yellow', shape: 'ring', text: statusText(withWarning(_('motion-detect.status.noFrames'), v.warning, _)) };
  if (v.waiting) return { fill: v.warning ? 'red' : 'grey', shape: 'ring', text: statusText(withWarning(_('motion-detect.status.waiting'), v.warning, _)) };
  const state = _(v.active ? 'motion-detect.status.motion' : v.learning ? 'motion-detect.status.learning' : 'motion-detect.status.noMotion');
  const live = _('motion-detect.status.detecting', { state, score: (v.score * 100).toFixed(1), ms: v.msPerFrame.toFixed(2) });
  // A node that works around bad settings says so for as long as they last, not only until the next frame.
  if (v.warning) return { fill: 'red', shape: 'ring', text: statusText(withWarning(live, v.warning, _)) };
  return { fill: v.active ? 'blue' : 'green', shape: 'dot', text: statusText(live) };
}

function withWarning(text: string, warning: string | undefined, _: Translate): string {
  return warning ? _('motion-detect.status.withWarning', { warning, text }) : text;
}
