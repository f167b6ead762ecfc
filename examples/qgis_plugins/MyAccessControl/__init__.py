# -*- coding: utf-8 -*-


def serverClassFactory(serverIface):
    from MyAccessControl.AccessControl import AccessControl

    return AccessControl(serverIface)
