package io.runnel.testkit;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;

/** Damages files the way a crash or a bad disk does: cut at a byte, flip a byte, append garbage. */
public final class FileCorruptor {
    private FileCorruptor() {
    }

    public static void truncate(Path file, long length) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(Math.min(length, f.length()));
        }
    }

    /** Inverts every bit of the byte at {@code position}. */
    public static void flip(Path file, long position) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(position);
            int b = f.read();
            f.seek(position);
            f.write(~b & 0xff);
        }
    }

    public static void appendGarbage(Path file, byte[] garbage) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(f.length());
            f.write(garbage);
        }
    }
}
