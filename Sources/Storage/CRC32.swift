/// CRC-32 as ZIP, gzip and PNG use it (ISO 3309 / ITU-T V.42: reflected polynomial 0xEDB88320, initial value
/// and final XOR 0xFFFFFFFF). The check value of the ASCII bytes "123456789" is 0xCBF43926.
public enum CRC32 {
    /// The CRC-32 of `bytes`; pass a previous result as `continuing` to checksum data in pieces.
    public static func checksum<C: Collection>(_ bytes: C, continuing previous: UInt32 = 0) -> UInt32 where C.Element == UInt8 {
        var crc = ~previous
        let done: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            table.withUnsafeBufferPointer { table in
                for byte in buffer { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
            }
        }
        if done == nil {
            for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return ~crc
    }

    private static let table: [UInt32] = (0..<256).map { index -> UInt32 in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }
}
