import { boxKey } from '../core/ffmpeg/options';
import { bridgeStatusTopic } from '../core/motion/ha-discovery';
import type { HaPublisherOptions } from '../core/motion/ha-publisher';
import { parseRegions, type Region } from '../core/motion/roi';
import { rangeMessage, readNumbers, trimmed, type Translate } from './config';
import { MOTION_RULES } from './field-rules';
import { settingsHash } from './lifecycle';
import type { NodeDef } from './red-types';

export interface MotionDetectConfig {
  name?: string;
  stream?: string;
  analysisWidth?: number | string;
  analysisHeight?: number | string;
  pixelThreshold?: number | string;
  minArea?: number | string;
  noiseFactor?: number | string;
  startFrames?: number | string;
  quietSeconds?: number | string;
  cooldownSeconds?: number | string;
  staleSeconds?: number | string;
  regions?: string;
  topicPrefix?: string;
  discovery?: boolean;
  discoveryPrefix?: string;
  haStatusTopic?: string;
  discoveryDelay?: number | string;
  sensorName?: string;
  attachImage?: boolean;
  cameraEntity?: boolean;
}

/** A motion-detect node's configuration as the runtime uses it, read and checked once. */
export interface MotionSettings {
  values: Record<keyof typeof MOTION_RULES, number>;
  /** Refused numeric settings, as messages: the node then asks for no frames and sends nothing. */
  refused: string[];
  regions: Region[];
  /** Regions that were ignored (or all of them, with the whole frame used instead), as messages. */
  regionErrors: string[];
  /** The box gray frames must fit inside, and its key in `msg.gray`. */
  box: { width: number; height: number };
  grayKey: string;
  /** The Stream field ('' when the wired camera's is used). */
  stream: string;
  /** Topics whose `online` means "publish everything again". */
  haStatusTopic: string;
  bridgeTopic: string;
  discoveryDelayMs: number;
  publisher: Omit<HaPublisherOptions, 'nodeId' | 'version'>;
  /** Equal for two configurations that do the same (layout and wiring left out). */
  hash: string;
}

/** Editor-only properties: moving a node or rewiring it does not change what it does. */
const LAYOUT_KEYS = new Set(['x', 'y', 'z', 'g', 'w', 'h', 'wires', 'l', '_users']);

export function motionSettings(config: MotionDetectConfig & NodeDef, _: Translate): MotionSettings {
  const { values, problems } = readNumbers(config, MOTION_RULES);
  const box = { width: values.analysisWidth, height: values.analysisHeight };
  const { regions, errors: regionErrors } = parseRegionsLenient(config.regions, _);
  const topicPrefix = trimmed(config.topicPrefix) || 'glimpser';
  return {
    values,
    refused: problems.map((p) => rangeMessage(_, 'motion-detect', p)),
    regions,
    regionErrors,
    box,
    grayKey: boxKey(box),
    stream: trimmed(config.stream),
    haStatusTopic: trimmed(config.haStatusTopic) || 'homeassistant/status',
    bridgeTopic: bridgeStatusTopic(topicPrefix),
    discoveryDelayMs: values.discoveryDelay * 1000,
    publisher: {
      topicPrefix,
      discovery: config.discovery !== false,
      discoveryPrefix: trimmed(config.discoveryPrefix) || 'homeassistant',
      cameraEntity: config.cameraEntity !== false,
      attachImage: config.attachImage === true,
      sensorName: config.sensorName,
    },
    hash: settingsHash(Object.fromEntries(Object.entries(config).filter(([k]) => !LAYOUT_KEYS.has(k)))),
  };
}

/** Keeps the valid regions and reports each invalid one, so one typo does not stop detection. */
function parseRegionsLenient(text: unknown, _: Translate): { regions: Region[]; errors: string[] } {
  let list: unknown;
  const wholeFrame = (problem: string): string => _('motion-detect.errors.regionsWholeFrame', { problem });
  try {
    list = typeof text === 'string' && text.trim() !== '' ? JSON.parse(text) : [];
  } catch (err) {
    return { regions: [], errors: [wholeFrame(_('motion-detect.errors.regionsJson', { message: (err as Error).message }))] };
  }
  if (!Array.isArray(list)) return { regions: [], errors: [wholeFrame(_('motion-detect.errors.regionsArray'))] };
  const errors: string[] = [];
  const ok: unknown[] = [];
  list.forEach((r, i) => {
    try {
      parseRegions([r]);
      ok.push(r && typeof r === 'object' && !(r as { name?: unknown }).name ? { ...(r as object), name: `region${i + 1}` } : r);
    } catch (err) {
      errors.push(_('motion-detect.errors.regionIgnored', { problem: (err as Error).message.replace(/^regions\[0\]/, `regions[${i}]`) }));
    }
  });
  try {
    return { regions: parseRegions(ok), errors };
  } catch (err) {
    return { regions: [], errors: [...errors, wholeFrame((err as Error).message)] };
  }
}
