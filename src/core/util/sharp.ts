import type { Sharp, SharpOptions } from 'sharp';

export type SharpFactory = (input?: Buffer, options?: SharpOptions) => Sharp;

let loading: Promise<SharpFactory> | undefined;

/**
 * sharp, loaded the first time something needs it: libvips costs about 15 MB of RSS that a healthy stream read by
 * FFmpeg never needs (placeholders, pass-through motion and thumbnails load it).
 */
export function loadSharp(): Promise<SharpFactory> {
  return (loading ??= import('sharp').then((m) => (m as unknown as { default: SharpFactory }).default));
}
