/**
 * What a Netty handler of your own, placed between Tether's write tracker and the transport, uses
 * to tell the tracker that it refused a write softly (the connection stays usable, the bytes may be
 * resent). Depends on nothing else in Tether, so handlers such as the fault injector need not
 * depend on the socket layer.
 */
package dev.tether.net.spi;
