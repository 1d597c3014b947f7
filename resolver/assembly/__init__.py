"""The top of the node: where its parts are built and wired together. Nothing below imports this
package; each part below gets its collaborators from here (README "How it is built")."""
