import Storage

/// numpy's `.npz` format: a ZIP archive of `.npy` files, one per array, named `<key>.npy`.
///
/// `np.savez` stores the entries, `np.savez_compressed` deflates them; both are read (through Storage's
/// ``ZipArchive``, each entry's size and CRC-32 checked, deflate inflated by zlib). Writing stores the entries,
/// as `np.savez` does, in key order, so the same arrays always give the same bytes. pytorch-fid keeps its
/// statistics this way: `mu` (2048, float64) and `sigma` (2048 x 2048, float64).
///
/// Provenance: numpy/lib/npyio.py (`savez`, `load`'s NpzFile).
public enum NPZ {
    /// Reads every array of the `.npz` file at `path`, by key (the entry name without `.npy`).
    ///
    /// - Throws: `DatasetError.cannotRead`, `ZipError` (archive structure, CRC-32), `DatasetError.corruptGzip`
    ///   (damaged deflate data) or `NPYError` naming the entry.
    public static func read(contentsOf path: String) throws -> [String: NPYArray] {
        try decode(FileBytes.read(path), source: path)
    }

    /// Decodes the bytes of an `.npz` file; `source` names it in errors. Every entry must be a `.npy` file.
    public static func decode(_ bytes: [UInt8], source: String) throws -> [String: NPYArray] {
        let archive = try ZipArchive(bytes: bytes, source: source)
        var arrays: [String: NPYArray] = [:]
        for entry in archive.entries {
            let entrySource = "\(source) entry \(entry.name)"
            guard entry.name.hasSuffix(".npy") else {
                throw NPYError(path: entrySource, reason: "the entry is not named <key>.npy, so the file is not an .npz archive of arrays")
            }
            let contents = try archive.contents(of: entry.name) { raw, size in
                try Gzip.inflateRaw(raw, expectedSize: size, source: entrySource)
            }
            arrays[String(entry.name.dropLast(4))] = try NPY.decode(contents, source: entrySource)
        }
        return arrays
    }

    /// The bytes of an `.npz` file holding `arrays`, stored uncompressed, entries in key order.
    ///
    /// - Precondition: no key is empty.
    public static func encode(_ arrays: [String: NPYArray]) -> [UInt8] {
        precondition(!arrays.keys.contains(""), "NPZ.encode: an empty key")
        let keys = arrays.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return ZipArchive.stored(keys.map { (name: $0 + ".npy", bytes: NPY.encode(arrays[$0]!)) })
    }

    /// Writes `arrays` as an `.npz` file, atomically (a crash leaves the old file or the complete new one).
    public static func write(_ arrays: [String: NPYArray], to path: String) throws {
        try writeAtomically(encode(arrays), to: path)
    }
}
