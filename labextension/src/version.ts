// The version of the widget module is the version of the npm package, which is
// also the version of the Python package (hatch-nodejs-version reads package.json).
// It is read with `require` (resolved by the labextension builder) rather than a JSON
// import, which would copy package.json into lib/. The path is relative to the compiled
// file, lib/labextension/src/version.js (tsconfig's rootDir is the repository, so that
// scanflow_jupyter/workflow/states.json can be imported).
declare const require: (id: string) => { name: string; version: string };

const data = require('../../../package.json');

/** The name of the widget module: the npm package name. */
export const MODULE_NAME: string = data.name;

/**
 * The version of the widget module: the npm package version. Python-side widget
 * models must set `_model_module_version` / `_view_module_version` to this.
 */
export const MODULE_VERSION: string = data.version;
