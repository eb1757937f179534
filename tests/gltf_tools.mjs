// glTF checks for the Python tests, run with the viewer's npm packages:
//
//   node tests/gltf_tools.mjs validate FILE...   one JSON line per file (Khronos glTF-Validator)
//   node tests/gltf_tools.mjs decode FILE        JSON: world-space geometry per mesh instance
//   node tests/gltf_tools.mjs load FILE          JSON: what three.js GLTFLoader (the viewer's) sees
//
// `decode` reads accessors itself and undoes EXT_meshopt_compression with the
// meshoptimizer decoder, so it also works on files three.js would refuse; `load`
// goes through viewer/src/model-loader.js, the loader the browser uses. Two
// independent readers agreeing is the evidence that a compressed GLB is intact.
// Neither follows a URI out of the file's own folder.

import { createHash } from "node:crypto";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const VIEWER = resolve(dirname(fileURLToPath(import.meta.url)), "..", "viewer");
const require = createRequire(join(VIEWER, "package.json"));

const MAX_MESSAGES = 20;
const SEVERITY_ERROR = 0;
const SEVERITY_WARNING = 1;
const GLB_MAGIC = 0x46546c67; // "glTF"
const CHUNK_JSON = 0x4e4f534a;
const CHUNK_BIN = 0x004e4942;
const MESHOPT_EXTENSIONS = ["EXT_meshopt_compression", "KHR_meshopt_compression"];
const COMPONENT_ARRAYS = {
  5120: Int8Array,
  5121: Uint8Array,
  5122: Int16Array,
  5123: Uint16Array,
  5125: Uint32Array,
  5126: Float32Array,
};
// glTF 2.0 §3.11: normalized integer to float.
const NORMALIZE = {
  5120: (c) => Math.max(c / 127, -1),
  5121: (c) => c / 255,
  5122: (c) => Math.max(c / 32767, -1),
  5123: (c) => c / 65535,
};
const TYPE_SIZES = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4, MAT2: 4, MAT3: 9, MAT4: 16 };
const POSITION_DECIMALS = 1e6;
const MODE_TRIANGLES = 4;

function leavesFolder(relativePath) {
  return relativePath === ".." || relativePath.startsWith(`..${sep}`) || isAbsolute(relativePath);
}

/** The file a relative URI names, or an error when it leaves the asset's folder. */
function confinedPath(assetFile, uri) {
  const folder = realpathSync(dirname(resolve(assetFile)));
  let decoded;
  try {
    decoded = decodeURIComponent(uri);
  } catch {
    throw new Error(`malformed URI ${JSON.stringify(uri)}`);
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(decoded) || isAbsolute(decoded)) {
    throw new Error(`refused ${JSON.stringify(uri)}: not a relative path`);
  }
  if (leavesFolder(relative(folder, resolve(folder, decoded)))) {
    throw new Error(`refused ${JSON.stringify(uri)}: outside the asset's folder`);
  }
  if (!existsSync(resolve(folder, decoded))) {
    throw Object.assign(new Error(`${JSON.stringify(uri)} not found`), { missing: true });
  }
  const real = realpathSync(resolve(folder, decoded)); // a symlink may point elsewhere
  if (leavesFolder(relative(folder, real))) {
    throw new Error(`refused ${JSON.stringify(uri)}: links outside the asset's folder`);
  }
  return real;
}

function issueSummary(message) {
  return { code: message.code, message: message.message, pointer: message.pointer ?? null };
}

async function validateOne(validator, file) {
  const resources = { read: [], refused: [], missing: [] };
  const externalResourceFunction = (uri) =>
    new Promise((accept, reject) => {
      let path;
      try {
        path = confinedPath(file, uri);
      } catch (error) {
        (error.missing ? resources.missing : resources.refused).push(uri);
        reject(error.message);
        return;
      }
      resources.read.push(uri);
      accept(new Uint8Array(readFileSync(path)));
    });
  const result = { file, externalResources: resources };
  const bytes = readFileSync(file); // a missing file is the caller's mistake: fail loudly
  let report;
  try {
    report = await validator.validateBytes(new Uint8Array(bytes), {
      uri: basename(file),
      externalResourceFunction,
      maxIssues: 0,
      writeTimestamp: false,
    });
  } catch (error) {
    // The validator rejects input it cannot even recognise as glTF or GLB.
    const message = { code: "NOT_GLTF", message: String(error?.message ?? error), pointer: null };
    return {
      ...result,
      numErrors: 1,
      numWarnings: 0,
      numInfos: 0,
      messages: [message],
      extensionsUsed: [],
      unsupportedExtensions: [],
    };
  }
  const { issues, info = {} } = report;
  const messages = issues.messages
    .filter((m) => m.severity === SEVERITY_ERROR || m.severity === SEVERITY_WARNING)
    .slice(0, MAX_MESSAGES)
    .map(issueSummary);
  return {
    ...result,
    numErrors: issues.numErrors,
    numWarnings: issues.numWarnings,
    numInfos: issues.numInfos,
    messages,
    extensionsUsed: info.extensionsUsed ?? [],
    // The validator cannot see inside these (EXT_meshopt_compression among them):
    // their data needs another check, such as `decode`.
    unsupportedExtensions: issues.messages
      .filter((m) => m.code === "UNSUPPORTED_EXTENSION")
      .map((m) => /'([^']+)'/.exec(m.message)?.[1] ?? m.message),
  };
}

async function validate(files) {
  const validator = require("gltf-validator");
  for (const file of files) {
    process.stdout.write(`${JSON.stringify(await validateOne(validator, file))}\n`);
  }
}

/** The JSON document and binary chunk of a GLB, or the document of a .gltf. */
function readContainer(file) {
  const bytes = readFileSync(file);
  if (bytes.length < 12 || bytes.readUInt32LE(0) !== GLB_MAGIC) {
    return { json: JSON.parse(bytes.toString("utf8")), bin: null };
  }
  const length = bytes.readUInt32LE(8);
  if (length > bytes.length) throw new Error(`${file}: GLB says ${length} bytes, file has ${bytes.length}`);
  let json = null;
  let bin = null;
  for (let offset = 12; offset + 8 <= length; ) {
    const chunkLength = bytes.readUInt32LE(offset);
    const chunkType = bytes.readUInt32LE(offset + 4);
    const start = offset + 8;
    if (start + chunkLength > length) throw new Error(`${file}: GLB chunk runs past the end`);
    const body = bytes.subarray(start, start + chunkLength);
    if (chunkType === CHUNK_JSON && json === null) json = JSON.parse(body.toString("utf8"));
    if (chunkType === CHUNK_BIN && bin === null) bin = body;
    offset = start + chunkLength;
  }
  if (json === null) throw new Error(`${file}: GLB has no JSON chunk`);
  return { json, bin };
}

function loadBuffers(file, json, bin) {
  return (json.buffers ?? []).map((buffer, index) => {
    if (buffer.uri === undefined) return index === 0 ? bin : null; // null: meshopt fallback
    const data = /^data:[^,]*;base64,(.*)$/s.exec(buffer.uri);
    if (data) return Buffer.from(data[1], "base64");
    return readFileSync(confinedPath(file, buffer.uri));
  });
}

/** The bytes of a buffer view, decompressing EXT/KHR_meshopt_compression. */
function viewBytes(json, buffers, viewIndex, decoder, cache) {
  if (cache.has(viewIndex)) return cache.get(viewIndex);
  const view = json.bufferViews[viewIndex];
  const meshopt = MESHOPT_EXTENSIONS.map((name) => view.extensions?.[name]).find(Boolean);
  let bytes;
  if (meshopt) {
    const source = buffers[meshopt.buffer];
    const start = meshopt.byteOffset ?? 0;
    const compressed = new Uint8Array(source.buffer, source.byteOffset + start, meshopt.byteLength);
    bytes = new Uint8Array(meshopt.count * meshopt.byteStride);
    decoder.decodeGltfBuffer(
      bytes,
      meshopt.count,
      meshopt.byteStride,
      compressed,
      meshopt.mode,
      meshopt.filter ?? "NONE",
    );
  } else {
    const source = buffers[view.buffer];
    if (!source) throw new Error(`bufferView ${viewIndex} has no data`);
    bytes = new Uint8Array(source.buffer, source.byteOffset + (view.byteOffset ?? 0), view.byteLength);
  }
  cache.set(viewIndex, bytes);
  return bytes;
}

/** An accessor's elements as arrays of numbers (normalized integers become floats). */
function readAccessor(json, buffers, accessorIndex, decoder, cache) {
  const accessor = json.accessors[accessorIndex];
  if (accessor.sparse) throw new Error(`accessor ${accessorIndex} is sparse, which decode does not read`);
  const width = TYPE_SIZES[accessor.type];
  const Array_ = COMPONENT_ARRAYS[accessor.componentType];
  const out = new Float64Array(accessor.count * width);
  if (accessor.bufferView === undefined) return { width, values: out };
  const view = json.bufferViews[accessor.bufferView];
  const bytes = viewBytes(json, buffers, accessor.bufferView, decoder, cache);
  const meshopt = MESHOPT_EXTENSIONS.map((name) => view.extensions?.[name]).find(Boolean);
  const stride = meshopt?.byteStride ?? view.byteStride ?? width * Array_.BYTES_PER_ELEMENT;
  const data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const get = {
    5120: (o) => data.getInt8(o),
    5121: (o) => data.getUint8(o),
    5122: (o) => data.getInt16(o, true),
    5123: (o) => data.getUint16(o, true),
    5125: (o) => data.getUint32(o, true),
    5126: (o) => data.getFloat32(o, true),
  }[accessor.componentType];
  const normalize = accessor.normalized ? NORMALIZE[accessor.componentType] : (c) => c;
  const base = accessor.byteOffset ?? 0;
  for (let i = 0; i < accessor.count; i++) {
    for (let c = 0; c < width; c++) {
      out[i * width + c] = normalize(get(base + i * stride + c * Array_.BYTES_PER_ELEMENT));
    }
  }
  return { width, values: out };
}

// 4x4 matrices, column-major like glTF.
function multiply(a, b) {
  const out = new Array(16).fill(0);
  for (let col = 0; col < 4; col++) {
    for (let row = 0; row < 4; row++) {
      for (let k = 0; k < 4; k++) out[col * 4 + row] += a[k * 4 + row] * b[col * 4 + k];
    }
  }
  return out;
}

function localMatrix(node) {
  if (node.matrix) return node.matrix;
  const [tx, ty, tz] = node.translation ?? [0, 0, 0];
  const [x, y, z, w] = node.rotation ?? [0, 0, 0, 1];
  const [sx, sy, sz] = node.scale ?? [1, 1, 1];
  // T * R * S, written out.
  return [
    (1 - 2 * (y * y + z * z)) * sx,
    2 * (x * y + z * w) * sx,
    2 * (x * z - y * w) * sx,
    0,
    2 * (x * y - z * w) * sy,
    (1 - 2 * (x * x + z * z)) * sy,
    2 * (y * z + x * w) * sy,
    0,
    2 * (x * z + y * w) * sz,
    2 * (y * z - x * w) * sz,
    (1 - 2 * (x * x + y * y)) * sz,
    0,
    tx,
    ty,
    tz,
    1,
  ];
}

/** Every node that has a mesh, with its world matrix, in scene order. */
function meshInstances(json) {
  const nodes = json.nodes ?? [];
  const scene = json.scenes?.[json.scene ?? 0];
  const children = new Set(nodes.flatMap((node) => node.children ?? []));
  const roots = scene ? scene.nodes ?? [] : nodes.map((_, i) => i).filter((i) => !children.has(i));
  const identity = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  const found = [];
  const visit = (index, parent, depth) => {
    if (depth > nodes.length) throw new Error("node hierarchy has a cycle");
    const world = multiply(parent, localMatrix(nodes[index]));
    if (nodes[index].mesh !== undefined) found.push({ node: index, mesh: nodes[index].mesh, world });
    for (const child of nodes[index].children ?? []) visit(child, world, depth + 1);
  };
  for (const root of roots) visit(root, identity, 0);
  return found;
}

function sha256(numbers) {
  const array = Float64Array.from(numbers);
  return createHash("sha256").update(new Uint8Array(array.buffer)).digest("hex");
}

function compareTuples(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

// Encoders may reorder vertices, triangles, and the corners of a triangle, so
// geometry is compared as sets: the sorted vertex set, and the sorted set of
// triangles, each rotated to start at its smallest corner (winding is kept).
function geometryHashes(rounded, indices) {
  const vertex = (i) => [rounded[3 * i], rounded[3 * i + 1], rounded[3 * i + 2]];
  const vertices = Array.from({ length: rounded.length / 3 }, (_, i) => vertex(i));
  const triangles = [];
  for (let t = 0; t + 2 < indices.length; t += 3) {
    const corners = [0, 1, 2].map((k) => vertex(indices[t + k]));
    let first = 0;
    for (const k of [1, 2]) if (compareTuples(corners[k], corners[first]) < 0) first = k;
    triangles.push([0, 1, 2].flatMap((k) => corners[(first + k) % 3]));
  }
  return {
    sha256_positions: sha256(vertices.sort(compareTuples).flat()),
    sha256_triangles: sha256(triangles.sort(compareTuples).flat()),
  };
}

function decodeInstance(json, buffers, instance, decoder, cache) {
  const positions = [];
  let indexCount = 0;
  const triangleCorners = []; // TRIANGLES primitives only; points and lines have none
  for (const primitive of json.meshes[instance.mesh].primitives) {
    const first = positions.length / 3;
    const { values } = readAccessor(json, buffers, primitive.attributes.POSITION, decoder, cache);
    const m = instance.world;
    for (let i = 0; i < values.length; i += 3) {
      const [x, y, z] = [values[i], values[i + 1], values[i + 2]];
      positions.push(
        m[0] * x + m[4] * y + m[8] * z + m[12],
        m[1] * x + m[5] * y + m[9] * z + m[13],
        m[2] * x + m[6] * y + m[10] * z + m[14],
      );
    }
    const count = values.length / 3;
    const indices =
      primitive.indices === undefined
        ? Array.from({ length: count }, (_, i) => i)
        : readAccessor(json, buffers, primitive.indices, decoder, cache).values;
    if (primitive.indices !== undefined) indexCount += indices.length;
    if ((primitive.mode ?? MODE_TRIANGLES) === MODE_TRIANGLES) {
      for (const index of indices) triangleCorners.push(first + index);
    }
  }
  const min = [Infinity, Infinity, Infinity];
  const max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < positions.length; i++) {
    min[i % 3] = Math.min(min[i % 3], positions[i]);
    max[i % 3] = Math.max(max[i % 3], positions[i]);
  }
  // Rounded so that float noise in the transform does not change the hashes.
  const rounded = Float64Array.from(positions, (v) => Math.round(v * POSITION_DECIMALS));
  return {
    node: instance.node,
    mesh: instance.mesh,
    name: json.meshes[instance.mesh].name ?? null,
    positions_count: positions.length / 3,
    index_count: indexCount,
    bbox_min: min,
    bbox_max: max,
    ...geometryHashes(rounded, triangleCorners),
  };
}

async function decode(file) {
  const MeshoptDecoder = require("meshoptimizer/decoder.cjs");
  await MeshoptDecoder.ready;
  const { json, bin } = readContainer(file);
  const buffers = loadBuffers(file, json, bin);
  const cache = new Map();
  const meshes = meshInstances(json).map((instance) =>
    decodeInstance(json, buffers, instance, MeshoptDecoder, cache),
  );
  process.stdout.write(`${JSON.stringify({ file, meshes })}\n`);
}

/** Loads the file as the browser viewer would, and reports each mesh's world bbox. */
async function load(file) {
  const { createGLTFLoader } = await import(pathToFileURL(join(VIEWER, "src", "model-loader.js")).href);
  const bytes = readFileSync(file);
  const arrayBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const gltf = await createGLTFLoader().parseAsync(arrayBuffer, "");
  gltf.scene.updateMatrixWorld(true);
  const meshes = [];
  gltf.scene.traverse((object) => {
    if (!object.isMesh) return;
    // three keeps quantized attributes as integers; fromBufferAttribute applies
    // `normalized`, and matrixWorld the node transforms, as the GPU would.
    const position = object.geometry.attributes.position;
    const point = object.position.clone();
    const min = [Infinity, Infinity, Infinity];
    const max = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < position.count; i++) {
      point.fromBufferAttribute(position, i).applyMatrix4(object.matrixWorld);
      point.toArray().forEach((v, axis) => {
        min[axis] = Math.min(min[axis], v);
        max[axis] = Math.max(max[axis], v);
      });
    }
    meshes.push({
      name: object.name,
      positions_count: position.count,
      index_count: object.geometry.index?.count ?? 0,
      bbox_min: min,
      bbox_max: max,
    });
  });
  process.stdout.write(`${JSON.stringify({ file, meshes })}\n`);
}

const COMMANDS = { validate, decode: ([file]) => decode(file), load: ([file]) => load(file) };

const [command, ...files] = process.argv.slice(2);
if (!COMMANDS[command] || files.length === 0) {
  process.stderr.write("usage: node tests/gltf_tools.mjs validate FILE... | decode FILE | load FILE\n");
  process.exit(2);
}
try {
  await COMMANDS[command](files);
} catch (error) {
  process.stderr.write(`gltf_tools ${command}: ${error?.stack ?? error}\n`);
  process.exit(1);
}
