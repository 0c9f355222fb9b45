import Foundation

extension QRCode {
    /// The symbol as an SVG document, safe to inline in HTML: a white background and one `<path>` of dark runs
    /// (`M x y h length v1 h -length z` per horizontal run), coordinates in modules with the quiet zone included in
    /// the `viewBox`, `shape-rendering="crispEdges"` so no anti-aliasing seams appear between runs.
    ///
    /// - Parameters:
    ///   - moduleSize: pixels per module for the `width`/`height` attributes; 0 or less leaves them out, so the
    ///     image takes the size its container or CSS gives it.
    ///   - quietZone: light modules around the symbol (the standard asks for 4).
    ///   - label: the accessible name (`<title>` and `aria-label`, escaped); without it the image is `aria-hidden`.
    public func svg(moduleSize: Int = 4, quietZone: Int = 4, label: String? = nil) -> String {
        let quiet = max(0, quietZone)
        let extent = size + 2 * quiet
        let escaped = label.map { Array(Self.escapeMarkup($0).utf8) } ?? []
        // At most (size + 1) / 2 runs a row, each at most "M" + 3 digits + " " + 3 + "h" + 3 + "v1h-" + 3 + "z"
        // (digits: up to 177 + 2 × quiet zone, so allow 20 per number), plus the fixed text and the label twice.
        let capacity = 512 + 2 * escaped.count + size * ((size + 1) / 2) * (11 + 4 * 20)
        return String(unsafeUninitializedCapacity: capacity) { buffer in
            var out = ByteWriter(buffer.baseAddress!)
            out.write(#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 "#)
            out.decimal(extent)
            out.byte(UInt8(ascii: " "))
            out.decimal(extent)
            out.byte(UInt8(ascii: "\""))
            if moduleSize > 0 {
                out.write(#" width=""#)
                out.decimal(extent * moduleSize)
                out.write(#"" height=""#)
                out.decimal(extent * moduleSize)
                out.byte(UInt8(ascii: "\""))
            }
            out.write(#" shape-rendering="crispEdges""#)
            if label != nil {
                out.write(#" role="img" aria-label=""#)
                out.write(escaped)
                out.write(#""><title>"#)
                out.write(escaped)
                out.write("</title>")
            } else {
                out.write(#" aria-hidden="true">"#)
            }
            out.write(##"<rect width="100%" height="100%" fill="#fff"/><path fill="#000" d=""##)
            for y in 0..<size {
                darkRuns(y: y) { start, end in
                    out.byte(UInt8(ascii: "M"))
                    out.decimal(start + quiet)
                    out.byte(UInt8(ascii: " "))
                    out.decimal(y + quiet)
                    out.byte(UInt8(ascii: "h"))
                    out.decimal(end - start)
                    out.write("v1h-")
                    out.decimal(end - start)
                    out.byte(UInt8(ascii: "z"))
                }
            }
            out.write(#""/></svg>"#)
            return out.count
        }
    }

    /// Calls `body(start, end)` for each run of dark modules `start ..< end` of row y, left to right, a word of
    /// the row at a time.
    @inline(__always)
    func darkRuns(y: Int, _ body: (Int, Int) -> Void) {
        rows.withUnsafeBufferPointer { words in
            let row = words.baseAddress! + y * stride
            var x = 0
            while x < size {
                let dark = row[x >> 6] &>> UInt64(x & 63)
                if dark == 0 {
                    x = (x | 63) + 1
                    continue
                }
                x += dark.trailingZeroBitCount
                // The row's bits past the symbol are 0, so every run ends inside the row's words.
                var end = x
                while true {
                    let light = ~row[end >> 6] &>> UInt64(end & 63)
                    if light == 0 {
                        end = (end | 63) + 1
                        continue
                    }
                    end += light.trailingZeroBitCount
                    break
                }
                body(x, end)
                x = end
            }
        }
    }

    /// `&`, `<`, `>`, `"` and `'` as character references: the label is safe in text and in a quoted attribute.
    static func escapeMarkup(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }

    /// The symbol as a PNG file: 1-bit greyscale (dark 0, light 1), `scale` pixels per module (at least 1),
    /// `quietZone` light modules around it; IHDR, one IDAT (a zlib stream, see ``QRPNG``), IEND.
    public func png(scale: Int = 4, quietZone: Int = 4) -> [UInt8] {
        let scale = max(1, scale), quiet = max(0, quietZone)
        let width = (size + 2 * quiet) * scale
        let lineLength = (width + 7) / 8 + 1
        var raw = [UInt8](repeating: 0xFF, count: lineLength * width)
        raw.withUnsafeMutableBufferPointer { raw in
            let raw = raw.baseAddress!
            for y in 0..<(size + 2 * quiet) {
                let line = raw + y * scale * lineLength
                line[0] = 0  // filter type None
                if y >= quiet && y < quiet + size {
                    let pixels = line + 1
                    darkRuns(y: y - quiet) { start, end in
                        QRPNG.clearBits(pixels, from: (start + quiet) * scale, to: (end + quiet) * scale)
                    }
                }
                for copy in 1..<scale { (line + copy * lineLength).update(from: line, count: lineLength) }
            }
        }
        return QRPNG.file(width: width, height: width, bitDepth: 1, scanlines: raw)
    }
}

/// Appends bytes at a pointer the caller sized for the worst case.
struct ByteWriter {
    let base: UnsafeMutablePointer<UInt8>
    var count = 0

    init(_ base: UnsafeMutablePointer<UInt8>) { self.base = base }

    @inline(__always) mutating func byte(_ value: UInt8) {
        base[count] = value
        count += 1
    }

    @inline(__always) mutating func write(_ text: StaticString) {
        (base + count).update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        count += text.utf8CodeUnitCount
    }

    mutating func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { (base + count).update(from: $0.baseAddress!, count: $0.count) }
        count += bytes.count
    }

    /// A non-negative number in decimal.
    @inline(__always) mutating func decimal(_ value: Int) {
        let zero = UInt8(ascii: "0")
        if value < 10 {
            byte(zero + UInt8(value))
        } else if value < 100 {
            byte(zero + UInt8(value / 10))
            byte(zero + UInt8(value % 10))
        } else if value < 1000 {
            byte(zero + UInt8(value / 100))
            byte(zero + UInt8(value / 10 % 10))
            byte(zero + UInt8(value % 10))
        } else {
            decimal(value / 1000)
            let rest = value % 1000
            byte(zero + UInt8(rest / 100))
            byte(zero + UInt8(rest / 10 % 10))
            byte(zero + UInt8(rest % 10))
        }
    }
}
