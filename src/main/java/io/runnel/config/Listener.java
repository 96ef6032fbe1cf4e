package io.runnel.config;

import java.util.Locale;

/**
 * One entry of {@code listeners} or {@code advertised.listeners}: {@code NAME://host:port}, as in Apache Kafka. The
 * name is a security protocol ({@code PLAINTEXT}, {@code SSL}, {@code SASL_PLAINTEXT}, {@code SASL_SSL}) or any name
 * that {@code listener.security.protocol.map} maps to one.
 * An empty host means every interface, as in Kafka. IPv6 hosts are written in brackets ({@code [::1]}).
 */
public record Listener(String name, String host, int port) {

    /** Parses {@code NAME://host:port}; throws {@link IllegalArgumentException} when it is not of that form. */
    public static Listener parse(String text) {
        int sep = text.indexOf("://");
        if (sep <= 0) throw new IllegalArgumentException(text);
        String name = text.substring(0, sep).toUpperCase(Locale.ROOT);
        String rest = text.substring(sep + 3);
        int colon = rest.lastIndexOf(':');
        if (colon < 0) throw new IllegalArgumentException(text);
        String host = rest.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        int port = Integer.parseInt(rest.substring(colon + 1));
        if (port < 0 || port > 65535 || !name.matches("[A-Z][A-Z0-9_]*")) throw new IllegalArgumentException(text);
        return new Listener(name, host, port);
    }

    /** The address to bind: an empty host binds every interface. */
    public String bindHost() {
        return host.isEmpty() ? "0.0.0.0" : host;
    }

    @Override
    public String toString() {
        return name + "://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}
