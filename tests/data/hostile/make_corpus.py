#!/usr/bin/env python3
"""Writes the hostile-input corpus next to this script (standard library only; the files are committed).

Each file is something a careless or hostile user could hand mmtrain: configs that expand or never
end, images whose headers lie, JSON that nests or breaks, tar shards with forged headers, safetensors
whose header points anywhere. tests/data_pipeline/test_hostile.cpp feeds each one (and seeded
mutations of them) to the parser it targets: every case must end within seconds, in bounded memory,
either accepted or with one mm::Error line. Special files (a FIFO, /dev/zero, folders) cannot be
committed: the test makes them. Re-run this script after changing it: python3 make_corpus.py
"""
import json
import os
import struct
import tarfile
import io
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def write(rel, data):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- configs --------------------------------------------------------------------------------
laughs = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
for i in range(1, 10):
    laughs += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]\n"
write("config/billion_laughs.yaml", laughs)
write("config/alias_in_section.yaml", "model: &m {llm: {layers: 2}}\nimage: *m\n")
write("config/inherit_dev_zero.yaml", "inherit: /dev/zero\n")
write("config/inherit_folder.yaml", "inherit: .\n")
write("config/inherit_self.yaml", "inherit: inherit_self.yaml\n")
write("config/inherit_missing.yaml", "inherit: [no_such_parent.yaml]\n")
write("config/deep_flow.yaml", "a: " + "[" * 3000 + "]" * 3000 + "\n")
write("config/deep_block.yaml", "".join("  " * i + f"k{i}:\n" for i in range(150)) + "  " * 150 + "v: 1\n")
write("config/binary.yaml", bytes(range(256)) * 4)
write("config/tab_indent.yaml", "model:\n\tllm:\n\t\tlayers: 2\n")
write("config/unterminated.yaml", "name: \"never closed\nmodel: {llm: [1, 2\n")
write("config/huge_int.yaml", "model: {llm: {layers: 99999999999999999999999999}}\n")
write("config/inf_lr.yaml", "optimizer: {lr: .inf}\n")
write("config/nan_everything.yaml", "optimizer: {lr: .nan, eps: .nan}\nschedule: {min_lr_ratio: .nan}\n")
write("config/bad_image_mode.yaml", "image: {mode: tiles}\n")
write("config/seq_len_too_short.yaml",
      "model: {connector: {num_tokens: 64}}\nloader: {seq_len: 32}\n"
      "data: {sources: [{name: c, format: captions, path: c.jsonl}]}\n")
write("config/keys_are_maps.yaml", "? {a: 1}\n: 2\n")
write("config/utf16_bom.yaml", "\ufeffname: x\n".encode("utf-16"))
write("config/null_bytes.yaml", b"name: a\x00b\nmodel: \x00\n")
write("config/duplicate_keys.yaml", "name: a\nname: b\n")
write("config/many_docs.yaml", "---\nname: a\n---\nname: b\n")
write("config/empty.yaml", "")
write("config/long_scalar.yaml", "name: " + "x" * 50000 + "\n")


# ---- images ---------------------------------------------------------------------------------
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(w, h, colour=2, depth=8, rows=None, extra=b""):
    raw = rows if rows is not None else b"".join(b"\x00" + bytes((x * 7 + y * 3) % 256 for x in range(w * 3))
                                                  for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw)) + \
        chunk(b"IEND", b"")


good = png(16, 12)
write("image/good.png", good)
write("image/truncated.png", good[: len(good) // 2])
bad_crc = bytearray(good)
bad_crc[good.find(b"IDAT") + 8] ^= 0x20
write("image/bad_crc.png", bytes(bad_crc))
write("image/zero_size.png", png(0, 0, rows=b""))
# Headers claiming 100000 x 100000 (10^10 pixels) with a few bytes of data: refused before decoding.
SIG = b"\x89PNG\r\n\x1a\n"
write("image/huge_claim.png", SIG + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
      + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
# Valid CRCs, but the image data decompresses to far fewer rows than the header announces.
write("image/short_idat.png", SIG + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0))
      + chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + chunk(b"IEND", b""))
write("image/no_idat.png", SIG + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
      + chunk(b"IEND", b""))
write("image/huge_chunk_len.png", good[:33] + b"\x7f\xff\xff\xf0IDAT" + good[41:])
write("image/bad_colour_type.png", png(4, 4, colour=7))
write("image/not_an_image.jpg", "this is plain text with a .jpg name\n")
write("image/empty.png", b"")
# JPEG: SOI, SOF0 claiming 65500 x 65500, SOS, EOI: the probe refuses it by size.
write("image/jpeg_huge_claim.jpg", b"\xff\xd8\xff\xc0\x00\x11\x08\xff\xdc\xff\xdc\x03\x01\x22\x00\x02\x11"
      b"\x01\x03\x11\x01\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00\x00\xff\xd9")
write("image/jpeg_sof_only.jpg",
      b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x10\x00\x10\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01")
write("image/jpeg_zero_len_segment.jpg", b"\xff\xd8\xff\xe1\x00\x00\xff\xd9")


def bmp(w, h, bpp=24, data=None, dib_w=None, dib_h=None):
    row = ((w * bpp + 31) // 32) * 4
    pixels = data if data is not None else bytes((i * 13) % 256 for i in range(row * abs(h)))
    dib = struct.pack("<IiiHHIIiiII", 40, dib_w if dib_w is not None else w, dib_h if dib_h is not None else h, 1, bpp,
                      0, len(pixels), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(dib) + len(pixels), 0, 0, 14 + len(dib)) + dib + pixels


write("image/good.bmp", bmp(8, 6))
write("image/bmp_negative_height.bmp", bmp(8, -6))
write("image/bmp_huge_claim.bmp", bmp(8, 6, dib_w=2000000, dib_h=2000000))
write("image/bmp_truncated.bmp", bmp(64, 64)[:200])
gif = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
       b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
write("image/good.gif", gif)
write("image/gif_no_trailer.gif", gif[:-1])
write("image/webp_riff_lies.webp", b"RIFF\xff\xff\xff\x7fWEBPVP8 \x10\x00\x00\x00" + b"\x00" * 16)

# ---- JSON / JSONL ---------------------------------------------------------------------------
write("json/img/a.png", good)
cap = lambda image, caption="a picture": json.dumps({"image": image, "caption": caption})
write("json/captions.jsonl", "\n".join([
    cap("img/a.png"),
    cap("img/a.png\u0000.txt"),             # NUL inside the path
    cap("/etc/passwd"),                     # absolute
    cap("../../../../etc/passwd"),          # climbs out of the root
    cap("img"),                             # a folder
    cap("img/missing.png"),
    cap(["img/a.png"]),                     # wrong type
    cap("img/a.png", "\ud800 lone surrogate"),
    "{\"image\": \"img/a.png\", \"caption\": \"unterminated",
    "\xff\xfe not utf-8",
    "[" * 5000 + "]" * 5000,
    "{\"image\": \"img/a.png\", \"caption\": \"ok\", \"n\": 1e99999}",
    "{}", "null", "12", "\"str\"",
]) + "\n")
write("json/llava_array.json", json.dumps([
    {"id": 1, "image": "img/a.png", "conversations": [{"from": "human", "value": "<image> hi"},
                                                       {"from": "gpt", "value": "hello"}]},
    {"id": 2, "image": "img/a.png", "conversations": [{"from": "human", "value": "<image>" * 1000},
                                                       {"from": "gpt", "value": "x"}]},
    {"id": 3, "conversations": "not a list"},
    {"id": {"nested": "id"}, "image": "img/a.png", "conversations": []},
])[:-30] + "{\"broken\": [")
write("json/interleaved.jsonl", "\n".join([
    json.dumps({"texts": ["a", None], "images": [None, "img/a.png"]}),
    json.dumps({"texts": [None] * 1000, "images": ["img/a.png"] * 1000}),
    json.dumps({"texts": ["a"], "images": []}),
    json.dumps({"texts": [1, 2], "images": [None, None]}),
]) + "\n")
write("json/text.jsonl", "\n".join([json.dumps({"text": "x" * 20000}), json.dumps({"text": ""}),
                                    json.dumps({"text": None}), "{\"text\": \"a\"" + "}" * 100]) + "\n")
write("json/deep.json", "[" * 20000 + "]" * 20000)
write("json/no_newline_huge_line.jsonl", json.dumps({"text": "y" * 50000}))


# ---- tar shards -----------------------------------------------------------------------------
def tar_bytes(members, fmt=tarfile.USTAR_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


members = [("000.png", good), ("000.txt", b"a caption"), ("001.png", good), ("001.json", b"{\"caption\": \"x\"}")]
good_tar = tar_bytes(members)
write("tar/good.tar", good_tar)
write("tar/truncated.tar", good_tar[:700])
forged = bytearray(good_tar)
forged[124:136] = b"77777777777\x00"  # size field: 8 GiB - 1
write("tar/forged_size.tar", bytes(forged))
bad_sum = bytearray(good_tar)
bad_sum[148:156] = b"0000000\x00"
write("tar/bad_checksum.tar", bytes(bad_sum))
write("tar/pax_long_name.tar", tar_bytes([("d/" + "n" * 300 + ".png", good), ("d/" + "n" * 300 + ".txt", b"c")],
                                         tarfile.PAX_FORMAT))
write("tar/gzip.tar", zlib.compress(good_tar))
write("tar/dotdot_names.tar", tar_bytes([("../../escape.png", good), ("../../escape.txt", b"c")]))
write("tar/zeros.tar", b"\x00" * 4096)
write("tar/garbage.tar", bytes((i * 31 + 7) % 256 for i in range(3000)))


# ---- safetensors ----------------------------------------------------------------------------
def st(header, data=b""):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


ok = {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
write("safetensors/good.safetensors", st(ok, b"\x00" * 16))
write("safetensors/header_len_huge.safetensors", struct.pack("<Q", 1 << 62) + b"{}")
write("safetensors/header_not_json.safetensors", struct.pack("<Q", 8) + b"{{{{{{{{")
write("safetensors/offsets_past_end.safetensors",
      st({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 1 << 40]}}, b"\x00" * 16))
write("safetensors/offsets_reversed.safetensors",
      st({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [16, 0]}}, b"\x00" * 16))
write("safetensors/shape_overflow.safetensors",
      st({"w": {"dtype": "F32", "shape": [1 << 62, 1 << 62], "data_offsets": [0, 16]}}, b"\x00" * 16))
write("safetensors/negative_shape.safetensors",
      st({"w": {"dtype": "F32", "shape": [-1, 4], "data_offsets": [0, 16]}}, b"\x00" * 16))
write("safetensors/unknown_dtype.safetensors",
      st({"w": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}, b"\x00" * 16))
write("safetensors/overlap.safetensors",
      st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
          "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, b"\x00" * 24))
write("safetensors/size_mismatch.safetensors",
      st({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}, b"\x00" * 16))
write("safetensors/deep_header.safetensors", struct.pack("<Q", 20000) + b"[" * 10000 + b"]" * 10000)
write("safetensors/short.safetensors", b"\x01\x02\x03")
