// Stand-in for the form-data package in the extension bundle: Node's own FormData.
module.exports = globalThis.FormData;
