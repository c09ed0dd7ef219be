package dev.tether.event;

/**
 * Which half of the connection a failure happened on; {@code ACCEPT} for a failure of a server's
 * listening socket to accept a connection (there is no connection yet).
 */
public enum Direction {
  READ, WRITE, ACCEPT
}
