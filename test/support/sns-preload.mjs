// Loaded with `node --import` into a relay process under test: undici's global dispatcher (what the SNS
// verifier uses when no proxy is configured) serves the AWS SNS origin from the loopback fake at
// FAKE_SNS_BASE, so the relay fetches genuine https AWS URLs and the bytes come from the fake.
import { Agent, setGlobalDispatcher } from 'undici'

const base = process.env.FAKE_SNS_BASE
const origin = 'https://sns.eu-west-1.amazonaws.com'
if (base) {
  setGlobalDispatcher(
    new Agent().compose(
      (dispatch) => (opts, handler) =>
        dispatch(String(opts.origin) === origin ? { ...opts, origin: base } : opts, handler),
    ),
  )
}
