'use strict';

/**
 * A URL slug for `title`: lower case, words joined by single hyphens, anything else dropped.
 * @param {string} title
 * @returns {string}
 */
function slugify(title) {
  return title
    .trim()
    .replace(/[^A-Za-z0-9\s-]/g, '')
    .split(/[\s-]+/)
    .filter(Boolean)
    .join('-');
}

module.exports = { slugify };
