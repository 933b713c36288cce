/** The editor shows about this many characters under a node; longer status texts are cut, with an ellipsis. */
export const STATUS_TEXT_MAX = 80;

/** A node status text that fits under the node: cut at STATUS_TEXT_MAX characters, the last one an ellipsis. */
export function statusText(text: string): string {
  return text.length > STATUS_TEXT_MAX ? `${text.slice(0, STATUS_TEXT_MAX - 1)}…` : text;
}
