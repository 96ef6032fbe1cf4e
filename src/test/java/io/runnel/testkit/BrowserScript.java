package io.runnel.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;

/**
 * A node script under {@code src/test/js} that drives headless Chromium and talks to the test over its standard
 * streams: the test writes commands, one per line, and reads the lines the script prints. Its standard error goes to
 * a file named in every failure. Closing it asks it to quit and kills it if it does not.
 */
public final class BrowserScript implements AutoCloseable {
    private final Process process;
    private final Path errors;
    private final BufferedReader out;
    private final Writer in;

    private BrowserScript(Process process, Path errors) {
        this.process = process;
        this.errors = errors;
        this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
    }

    /** Starts {@code node src/test/js/<script> <args...>}, its errors in a file of {@code dir}. */
    public static BrowserScript start(Path dir, String script, String... args) throws IOException {
        Path errors = Files.createTempFile(dir, script, ".log");
        List<String> command = new java.util.ArrayList<>(List.of("node", "src/test/js/" + script));
        command.addAll(List.of(args));
        return new BrowserScript(new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.appendTo(errors.toFile())).start(), errors);
    }

    /** Sends one command line. */
    public void send(String command) throws IOException {
        in.write(command + "\n");
        in.flush();
    }

    /** The next line the script prints that {@code match} accepts (within 120 s). */
    public String line(Predicate<String> match) throws Exception {
        CompletableFuture<String> next = CompletableFuture.supplyAsync(() -> {
            try {
                for (String l = out.readLine(); l != null; l = out.readLine()) if (match.test(l)) return l;
                return null;
            } catch (IOException e) {
                return null;
            }
        });
        String l;
        try {
            l = next.get(120, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            process.destroyForcibly();
            throw new AssertionError("no answer from the browser script; its errors:\n" + Files.readString(errors));
        }
        if (l == null) throw new AssertionError("the browser script ended; its errors:\n" + Files.readString(errors));
        return l;
    }

    /** Sends {@code quit} and checks the script ends cleanly (its errors in the failure). */
    public void quit() throws Exception {
        send("quit");
        in.close();
        if (!process.waitFor(60, TimeUnit.SECONDS)) throw new AssertionError("the browser script did not quit");
        if (process.exitValue() != 0) throw new AssertionError("the browser script failed:\n" + Files.readString(errors));
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }
}
