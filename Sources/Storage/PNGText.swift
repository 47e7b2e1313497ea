/// PNG `tEXt` chunks (keyword, NUL, Latin-1 text; PNG specification 11.3.4.3): inserted after `IHDR` into an
/// encoded PNG, and read back without decoding the image. The toolkit records in each sample sheet the SHA-256
/// of the checkpoint it was drawn from (keyword `checkpoint_sha256`).
public enum PNGText {
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// `png` with one `tEXt` chunk per entry (sorted by keyword) after its `IHDR` chunk. Keywords are 1-79
    /// printable ASCII characters, texts ASCII without NUL (precondition). Nil if `png` does not start with a
    /// signature and an `IHDR` chunk.
    public static func inserting(_ entries: [String: String], into png: [UInt8]) -> [UInt8]? {
        guard png.count >= 33, Array(png[0..<8]) == signature, Array(png[12..<16]) == Array("IHDR".utf8),
              readUInt32(png, at: 8) == 13 else { return nil }
        var chunks: [UInt8] = []
        for (keyword, text) in entries.sorted(by: { $0.key < $1.key }) {
            precondition((1...79).contains(keyword.utf8.count) && keyword.utf8.allSatisfy { (32...126).contains($0) }
                         && text.utf8.allSatisfy { $0 != 0 && $0 < 128 }, "PNGText: bad entry \(keyword)=\(text)")
            let body = Array("tEXt".utf8) + Array(keyword.utf8) + [0] + Array(text.utf8)
            chunks += bigEndian(UInt32(body.count - 4)) + body + bigEndian(crc32(body))
        }
        return Array(png[0..<33]) + chunks + Array(png[33...])
    }

    /// The `tEXt` entries of a PNG's chunks before its first `IDAT` (where the toolkit puts them). Empty for data
    /// that is not a PNG or whose chunks are cut short; a chunk with a bad CRC is skipped.
    public static func entries(in png: [UInt8]) -> [String: String] {
        guard png.count >= 8, Array(png[0..<8]) == signature else { return [:] }
        var result: [String: String] = [:]
        var offset = 8
        while offset + 12 <= png.count {
            let length = Int(readUInt32(png, at: offset))
            guard length <= png.count - offset - 12 else { break }
            let type = Array(png[(offset + 4)..<(offset + 8)])
            if type == Array("IDAT".utf8) || type == Array("IEND".utf8) { break }
            if type == Array("tEXt".utf8) {
                let body = Array(png[(offset + 4)..<(offset + 8 + length)])
                let data = body[4...]
                if crc32(body) == readUInt32(png, at: offset + 8 + length), let nul = data.firstIndex(of: 0) {
                    let keyword = String(decoding: data[data.startIndex..<nul], as: UTF8.self)
                    result[keyword] = String(decoding: data[(nul + 1)...], as: UTF8.self)
                }
            }
            offset += 12 + length
        }
        return result
    }

    static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (UInt32(bytes[offset]) << 24) | (UInt32(bytes[offset + 1]) << 16) | (UInt32(bytes[offset + 2]) << 8)
            | UInt32(bytes[offset + 3])
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// CRC-32 (ISO 3309, as PNG and gzip use it) of `bytes`.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
