// The viewer's glTF loader must read meshopt-compressed GLB, which the
// processing pipeline writes. A tetrahedron is encoded here with the
// meshoptimizer encoder (same package as the decoder), so this runs without
// gltfpack; tests/test_gltf_tools.py repeats the check on gltfpack output.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MeshoptEncoder } from "meshoptimizer/encoder";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";
import { MeshoptDecoder, createGLTFLoader } from "../src/model-loader.js";

const POSITIONS = new Float32Array([0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]);
const INDICES = new Uint16Array([0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3]);

function padded(bytes, fill) {
  const out = new Uint8Array(Math.ceil(bytes.length / 4) * 4).fill(fill);
  out.set(bytes);
  return out;
}

// A GLB whose two buffer views exist only compressed (the fallback buffer has no data).
async function meshoptTetrahedron() {
  await MeshoptEncoder.ready;
  const vertices = MeshoptEncoder.encodeGltfBuffer(new Uint8Array(POSITIONS.buffer), 4, 12, "ATTRIBUTES");
  const triangles = MeshoptEncoder.encodeGltfBuffer(new Uint8Array(INDICES.buffer), 12, 2, "TRIANGLES");
  const compressed = new Uint8Array([...padded(vertices, 0), ...padded(triangles, 0)]);
  const meshopt = (byteOffset, byteLength, byteStride, count, mode) => ({
    EXT_meshopt_compression: { buffer: 0, byteOffset, byteLength, byteStride, count, mode },
  });
  const vertexBytes = padded(vertices, 0).length;
  const document = {
    asset: { version: "2.0" },
    extensionsUsed: ["EXT_meshopt_compression"],
    extensionsRequired: ["EXT_meshopt_compression"],
    buffers: [
      { byteLength: compressed.length },
      { byteLength: 72, extensions: { EXT_meshopt_compression: { fallback: true } } },
    ],
    bufferViews: [
      {
        buffer: 1,
        byteOffset: 0,
        byteLength: 48,
        byteStride: 12,
        extensions: meshopt(0, vertices.length, 12, 4, "ATTRIBUTES"),
      },
      {
        buffer: 1,
        byteOffset: 48,
        byteLength: 24,
        extensions: meshopt(vertexBytes, triangles.length, 2, 12, "TRIANGLES"),
      },
    ],
    accessors: [
      { bufferView: 0, componentType: 5126, count: 4, type: "VEC3", min: [0, 0, 0], max: [1, 2, 3] },
      { bufferView: 1, componentType: 5123, count: 12, type: "SCALAR" },
    ],
    meshes: [{ primitives: [{ attributes: { POSITION: 0 }, indices: 1 }] }],
    nodes: [{ mesh: 0 }],
    scenes: [{ nodes: [0] }],
    scene: 0,
  };
  const json = padded(new TextEncoder().encode(JSON.stringify(document)), 0x20);
  const glb = new Uint8Array(12 + 8 + json.length + 8 + compressed.length);
  const view = new DataView(glb.buffer);
  view.setUint32(0, 0x46546c67, true);
  view.setUint32(4, 2, true);
  view.setUint32(8, glb.length, true);
  view.setUint32(12, json.length, true);
  view.setUint32(16, 0x4e4f534a, true);
  glb.set(json, 20);
  view.setUint32(20 + json.length, compressed.length, true);
  view.setUint32(24 + json.length, 0x004e4942, true);
  glb.set(compressed, 28 + json.length);
  return glb.buffer;
}

// The index codec may start a triangle at another corner; winding is kept.
function canonicalTriangles(indices) {
  const triangles = [];
  for (let t = 0; t < indices.length; t += 3) {
    const corners = [indices[t], indices[t + 1], indices[t + 2]];
    const first = corners.indexOf(Math.min(...corners));
    triangles.push([0, 1, 2].map((k) => corners[(first + k) % 3]).join(","));
  }
  return triangles;
}

describe("model loader", () => {
  it("is a GLTFLoader wired to the meshoptimizer decoder", () => {
    const loader = createGLTFLoader();
    assert.ok(loader instanceof GLTFLoader);
    assert.equal(loader.meshoptDecoder, MeshoptDecoder);
  });

  it("decodes a meshopt-compressed GLB to the original geometry", async () => {
    const gltf = await createGLTFLoader().parseAsync(await meshoptTetrahedron(), "");
    const meshes = [];
    gltf.scene.traverse((object) => object.isMesh && meshes.push(object));
    assert.equal(meshes.length, 1);
    const { position } = meshes[0].geometry.attributes;
    assert.deepEqual([...position.array], [...POSITIONS]);
    assert.deepEqual(canonicalTriangles(meshes[0].geometry.index.array), canonicalTriangles(INDICES));
  });

  it("would refuse that file without the decoder", async () => {
    await assert.rejects(new GLTFLoader().parseAsync(await meshoptTetrahedron(), ""), /setMeshoptDecoder/);
  });
});
