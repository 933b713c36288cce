/**
 * What a capture's arguments need of a decoding plan (hardware or software): its input options and the filter chains
 * that bring its frames to each output's size and format. hwaccel/ makes plans; ffmpeg/ only uses them, so the
 * argument builder never depends on how hardware decoding is probed or chosen.
 */

export interface ScaleBox {
  width: number;
  /** Omitted: keep the aspect ratio (even height). */
  height?: number;
}

export type ChainFormat = 'yuv420p' | 'gray';

export interface DecodePlan {
  /** 'software', or the hardware method. */
  method: string;
  /** "vaapi on /dev/dri/renderD128", "software": for logs, status and health. */
  label: string;
  /**
   * Input options, before `-i`. For qsv and v4l2m2m they name an H.264 decoder (the codec of nearly every camera);
   * use the plan's codec variant when the codec is known.
   */
  inputArgs: string[];
  /**
   * A filter chain without pad labels, from decoded frames (hardware or software) to software frames that fit
   * `box` (undefined: keep the size). `gray`: 8-bit luma only. Goes after the rate filter and `split`.
   */
  scaleChain(box: ScaleBox | undefined, format: ChainFormat): string;
}
