"""``python -m losscli`` runs the same CLI as the ``losscli`` command."""

from losscli.cli import main

if __name__ == "__main__":
    main()
