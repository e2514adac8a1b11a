// The local RWX stand-in lives in src/demo so the demo and the benchmark run it from dist/ too.
export * from '../../src/demo/fake-rwx.js'
