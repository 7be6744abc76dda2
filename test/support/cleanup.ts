// Teardown that cannot leave anything running: every step runs even when an earlier one fails
// (a server left listening keeps the test process alive for ever), then the first failure is thrown.

export type Closer = (() => unknown) | null | undefined | false;

export async function closeAll(...closers: Closer[]): Promise<void> {
  const failures: unknown[] = [];
  for (const close of closers) {
    if (!close) continue;
    try {
      await close();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw failures[0];
}
