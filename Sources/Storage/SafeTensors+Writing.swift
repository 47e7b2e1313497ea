// Serializing a SafeTensorsArchive. The layout is a pure function of the tensors and metadata.

extension SafeTensorsArchive {
    /// Tensor names in file order: ascending by the UTF-8 bytes of the name (independent of locale,
    /// Unicode normalization and dictionary order).
    var orderedNames: [String] {
        entries.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The complete safetensors file: length prefix, JSON header, tensor bytes.
    ///
    /// The header lists `__metadata__` first (omitted when the metadata is empty, with its keys sorted),
    /// then the tensors sorted by name, each as `{"dtype":…,"shape":[…],"data_offsets":[begin,end]}`, without
    /// whitespace, padded with spaces so that the buffer starts at a multiple of 8 bytes. Tensors are laid
    /// out contiguously in the same order. Equal archives always give byte-identical output.
    public func serialized() -> [UInt8] {
        let names = orderedNames
        var header: [UInt8] = [UInt8(ascii: "{")]
        var needsComma = false
        if !metadata.isEmpty {
            appendJSONString(SafeTensorsArchive.metadataKey, to: &header)
            header.append(contentsOf: Array(":{".utf8))
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (index, key) in keys.enumerated() {
                if index > 0 { header.append(UInt8(ascii: ",")) }
                appendJSONString(key, to: &header)
                header.append(UInt8(ascii: ":"))
                appendJSONString(metadata[key] ?? "", to: &header)
            }
            header.append(UInt8(ascii: "}"))
            needsComma = true
        }
        var offset = 0
        for name in names {
            guard let entry = entries[name] else { continue }
            if needsComma { header.append(UInt8(ascii: ",")) }
            needsComma = true
            appendJSONString(name, to: &header)
            let shape = entry.shape.map(String.init).joined(separator: ",")
            let end = offset + entry.bytes.count
            let fields = ":{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}"
            header.append(contentsOf: Array(fields.utf8))
            offset = end
        }
        header.append(UInt8(ascii: "}"))
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }

        var file: [UInt8] = []
        file.reserveCapacity(8 + header.count + offset)
        let headerLength = UInt64(header.count)
        for shift in stride(from: 0, to: 64, by: 8) { file.append(UInt8(truncatingIfNeeded: headerLength >> UInt64(shift))) }
        file.append(contentsOf: header)
        for name in names {
            if let entry = entries[name] { file.append(contentsOf: entry.bytes) }
        }
        return file
    }

    /// Writes ``serialized()`` to `path` atomically: a crash leaves either the old file or the new one.
    ///
    /// - Throws: ``FileError`` if the file cannot be created or written.
    public func write(to path: String) throws {
        try serialized().withUnsafeBytes { try AtomicFile.write(bytes: $0, to: path) }
    }

    /// The SHA-256 of the tensor buffer of ``serialized()`` (every byte after the header), as 64 lowercase
    /// hex characters. It depends only on the tensors' bytes and names (through their order), not on the
    /// metadata, shapes or dtypes, so it identifies the weights of a checkpoint.
    public func tensorDataDigest() -> String {
        var hasher = SHA256()
        for name in orderedNames {
            guard let entry = entries[name] else { continue }
            entry.bytes.withUnsafeBytes { hasher.update($0) }
        }
        return hasher.finalizeHex()
    }

    /// The metadata key under which a header digest is stored (checkpoints, code priors).
    public static let headerDigestKey = "header_sha256"

    /// SHA-256 over everything in the header but this digest: each metadata entry except `header_sha256`, then
    /// each tensor's name, dtype and shape, both sorted by the UTF-8 bytes of the names, every string written as
    /// `<UTF-8 byte count>:<string>` so that no two different headers feed the same bytes. Together with
    /// `tensorDataDigest` it covers the whole file, so a renamed tensor or an edited record is detected.
    public func headerDigest() -> String {
        var hasher = SHA256()
        func add(_ text: String) { hasher.update(Array("\(text.utf8.count):".utf8)); hasher.update(Array(text.utf8)) }
        let byName: (String, String) -> Bool = { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        add("metadata")
        for key in metadata.keys.filter({ $0 != Self.headerDigestKey }).sorted(by: byName) {
            add(key); add(metadata[key] ?? "")
        }
        add("tensors")
        for name in entries.keys.sorted(by: byName) {
            guard let entry = entries[name] else { continue }
            add(name); add(entry.dtype.rawValue); add(entry.shape.map(String.init).joined(separator: ","))
        }
        return hasher.finalizeHex()
    }
}
