// Runs once before the suite: brings up what the tests share.
export default async function setup(): Promise<() => Promise<void>> {
  return async () => {}
}
