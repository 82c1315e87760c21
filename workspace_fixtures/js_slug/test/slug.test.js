'use strict';

const assert = require('node:assert');
const { slugify } = require('../src/slug');

describe('slugify', () => {
  it('joins words with hyphens', () => {
    assert.strictEqual(slugify('hello world'), 'hello-world');
  });

  it('lower-cases every letter', () => {
    assert.strictEqual(slugify('Hello World'), 'hello-world');
  });

  it('drops punctuation and collapses white space', () => {
    assert.strictEqual(slugify('  rock & roll!  '), 'rock-roll');
  });

  it('is empty for a title with no letters or digits', () => {
    assert.strictEqual(slugify('?!'), '');
  });
});
