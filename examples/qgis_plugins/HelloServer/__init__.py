# -*- coding: utf-8 -*-


def serverClassFactory(serverIface):
    from HelloServer import HelloServerServer

    return HelloServerServer(serverIface)
