import { loadSharp } from '../util/sharp';

/** Quality of a thumbnail made here (the stream's own thumbnails come from FFmpeg at the stream's quality). */
const QUALITY = 80;

/**
 * A JPEG scaled down to `width` (never up), as a stand-in for a thumbnail the stream has not made yet: a `?width=`
 * viewer's first picture is then its size, not the full frame. The frame is under the endpoint's pixel cap already;
 * the cap is passed to sharp as well, so a header that lies cannot make it decode more.
 */
export async function resizeJpeg(jpeg: Buffer, width: number, maxPixels: number): Promise<Buffer> {
  const sharp = await loadSharp();
  return sharp(jpeg, { limitInputPixels: Math.max(1, Math.ceil(maxPixels)) })
    .resize({ width, withoutEnlargement: true })
    .jpeg({ quality: QUALITY })
    .toBuffer();
}
