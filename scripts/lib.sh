# Shared by the scripts: source it from the project root.
# ensure_jar builds target/tether.jar when it is missing or older than any source or config file.
jar=target/tether.jar
ensure_jar() {
  if [ ! -f "$jar" ] || [ -n "$(find pom.xml src/main verticles conf -newer "$jar" -print -quit 2>/dev/null)" ]; then
    echo "building $jar ..." >&2
    scripts/mvnw -q -B -DskipTests package >&2
  fi
}
