/// A minimal PNG writer (ISO/IEC 15948): greyscale, the scanlines given with their filter bytes, wrapped in a zlib
/// stream (RFC 1950) of stored deflate blocks (RFC 1951 3.2.4: no compression, so no zlib library is linked) with
/// its Adler-32, each chunk with its CRC-32. A QR code at 4 pixels per module and 1 bit per pixel is a few KB.
enum QRPNG {
    /// A whole file for scanlines that already carry their filter bytes, written into one buffer: signature, IHDR,
    /// IDAT (zlib header, stored blocks, Adler-32), IEND.
    static func file(width: Int, height: Int, bitDepth: UInt8, scanlines: [UInt8]) -> [UInt8] {
        let blocks = max(1, (scanlines.count + 65534) / 65535)
        let zlibLength = 2 + blocks * 5 + scanlines.count + 4
        let total = 8 + (12 + 13) + (12 + zlibLength) + 12
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            var out = ByteWriter(buffer.baseAddress!)
            for byte: UInt8 in [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { out.byte(byte) }  // the signature
            out.bigEndian(13)
            var start = out.count
            out.write("IHDR")
            out.bigEndian(UInt32(width))
            out.bigEndian(UInt32(height))
            for byte in [bitDepth, 0, 0, 0, 0] { out.byte(byte) }  // greyscale, deflate, adaptive filtering, no interlace
            out.bigEndian(crc32(UnsafeBufferPointer(start: out.base + start, count: out.count - start)))
            out.bigEndian(UInt32(zlibLength))
            start = out.count
            out.write("IDAT")
            out.byte(0x78)  // deflate, 32 KB window
            out.byte(0x01)  // no dictionary, fastest; (0x78 << 8 | 0x01) is a multiple of 31
            scanlines.withUnsafeBufferPointer { data in
                var offset = 0
                repeat {
                    let length = min(65535, data.count - offset)
                    out.byte(offset + length == data.count ? 1 : 0)  // BFINAL, BTYPE 00: stored
                    out.byte(UInt8(length & 0xFF))
                    out.byte(UInt8(length >> 8))
                    out.byte(UInt8(~length & 0xFF))
                    out.byte(UInt8((~length >> 8) & 0xFF))
                    (out.base + out.count).update(from: data.baseAddress! + offset, count: length)
                    out.count += length
                    offset += length
                } while offset < data.count
                out.bigEndian(adler32(data))
            }
            out.bigEndian(crc32(UnsafeBufferPointer(start: out.base + start, count: out.count - start)))
            out.bigEndian(0)
            start = out.count
            out.write("IEND")
            out.bigEndian(crc32(UnsafeBufferPointer(start: out.base + start, count: 4)))
            precondition(out.count == total)
            initialized = total
        }
    }

    /// Sets pixels `from ..< to` of a 1-bit scanline (most significant bit first) to 0.
    @inline(__always)
    static func clearBits(_ line: UnsafeMutablePointer<UInt8>, from: Int, to: Int) {
        var pixel = from
        while pixel < to && pixel & 7 != 0 {
            line[pixel >> 3] &= ~(0x80 >> UInt8(pixel & 7))
            pixel += 1
        }
        while pixel + 8 <= to {
            line[pixel >> 3] = 0
            pixel += 8
        }
        while pixel < to {
            line[pixel >> 3] &= ~(0x80 >> UInt8(pixel & 7))
            pixel += 1
        }
    }

    static func adler32(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        do {
            var index = 0
            while index < bytes.count {
                // 5552 bytes is the most that cannot overflow 32 bits before the reduction (zlib's NMAX).
                let end = min(bytes.count, index + 5552)
                while index < end {
                    a &+= UInt32(bytes[index])
                    b &+= a
                    index += 1
                }
                a %= 65521
                b %= 65521
            }
        }
        return b << 16 | a
    }

    /// CRC-32 (ISO 3309, polynomial 0xEDB88320 reflected), eight table lookups at a time ("slicing by 8").
    static func crc32(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        crcTables.withUnsafeBufferPointer { table in
            do {
                var index = 0
                while index + 8 <= bytes.count {
                    let one = crc ^ (UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24)
                    crc = table[7 * 256 + Int(one & 0xFF)] ^ table[6 * 256 + Int((one >> 8) & 0xFF)]
                        ^ table[5 * 256 + Int((one >> 16) & 0xFF)] ^ table[4 * 256 + Int(one >> 24)]
                        ^ table[3 * 256 + Int(bytes[index + 4])] ^ table[2 * 256 + Int(bytes[index + 5])]
                        ^ table[256 + Int(bytes[index + 6])] ^ table[Int(bytes[index + 7])]
                    index += 8
                }
                while index < bytes.count {
                    crc = table[Int((crc ^ UInt32(bytes[index])) & 0xFF)] ^ (crc >> 8)
                    index += 1
                }
            }
        }
        return ~crc
    }

    /// Table k, entry n: the CRC of byte n followed by k zero bytes.
    static let crcTables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            tables[n] = c
        }
        for k in 1..<8 {
            for n in 0..<256 {
                let previous = tables[(k - 1) * 256 + n]
                tables[k * 256 + n] = tables[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return tables
    }()
}

extension ByteWriter {
    @inline(__always) mutating func bigEndian(_ value: UInt32) {
        byte(UInt8(value >> 24))
        byte(UInt8((value >> 16) & 0xFF))
        byte(UInt8((value >> 8) & 0xFF))
        byte(UInt8(value & 0xFF))
    }
}
