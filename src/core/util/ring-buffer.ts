/** Keeps the last `capacity` lines of text, e.g. a process's stderr, without growing. */
export class LineRing {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly capacity = 50, private readonly maxLineLength = 500) {}

  push(text: string): string[] {
    const parts = (this.partial + text).split(/\r?\n|\r/);
    this.partial = (parts.pop() ?? '').slice(0, this.maxLineLength);
    const complete: string[] = [];
    for (const raw of parts) {
      const line = raw.trim().slice(0, this.maxLineLength);
      if (!line) continue;
      complete.push(line);
      this.lines.push(line);
      if (this.lines.length > this.capacity) this.lines.shift();
    }
    return complete;
  }

  /** Complete lines plus any unterminated tail, oldest first. */
  snapshot(): string[] {
    return this.partial.trim() ? [...this.lines, this.partial.trim()] : [...this.lines];
  }

  last(): string | undefined {
    const all = this.snapshot();
    return all[all.length - 1];
  }

  clear(): void {
    this.lines.length = 0;
    this.partial = '';
  }
}
