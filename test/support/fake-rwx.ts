// The local RWX stand-in lives in tools/ (never shipped in dist/); tests run its TypeScript source directly.
export * from '../../tools/fake-rwx.js'
